"""one indication vocabulary for screening and protocols

Protocols used to name indications from their own list (``low_back_pain``, ``headache``,
``phantom_limb_pain``, ``postherpetic_neuralgia``…) while screening used the table of
``ketaclinic.indications`` (``back_pain``, ``migraine``, ``neuropathic_pain``…). Both now use the
table, so every stored protocol version's ``indications`` is rewritten onto it (a version's JSON
is re-validated on every read, ``protocols.codec``). No column changes.

Downgrade maps back where the old list has a name for the condition (``back_pain`` →
``low_back_pain``; the pain conditions it never listed → its ``chronic_pain``). What the upgrade
merged (``headache`` into ``migraine``…) stays merged: both names were valid before.

The maps are written out here, not imported, so this revision means the same whatever the table
becomes later.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

#: Old protocol id → the table's id (``ketaclinic.indications.RENAMED`` at this revision).
UP = {
    "low_back_pain": "back_pain",
    "headache": "migraine",
    "phantom_limb_pain": "neuropathic_pain",
    "postherpetic_neuralgia": "neuropathic_pain",
}
#: The table's ids the old protocol list did not have → the old list's name for them.
DOWN = {
    "back_pain": "low_back_pain",
    "neck_pain": "chronic_pain",
    "arthritis": "chronic_pain",
    "pain_after_injury": "chronic_pain",
    "post_operative_pain": "chronic_pain",
}

_versions = sa.table(
    "protocol_version",
    sa.column("id", sa.Integer),
    sa.column("definition", sa.JSON),
)


def renamed(indications: list[str], mapping: Mapping[str, str]) -> list[str]:
    """Each id through ``mapping``, in order, without repeating one that two ids became."""
    return list(dict.fromkeys(mapping.get(i, i) for i in indications))


def _rewrite(mapping: Mapping[str, str]) -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(_versions.c.id, _versions.c.definition)).all()
    for row_id, definition in rows:
        data: dict[str, Any] = dict(definition)
        old = list(data.get("indications") or [])
        new = renamed(old, mapping)
        if new != old:
            data["indications"] = new
            connection.execute(
                sa.update(_versions).where(_versions.c.id == row_id).values(definition=data)
            )


def upgrade() -> None:
    _rewrite(UP)


def downgrade() -> None:
    _rewrite(DOWN)
