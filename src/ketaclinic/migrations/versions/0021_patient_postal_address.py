"""the patient's postal address

The dispensing/administration record of 21 CFR 1304.22(c) names the patient's address. Existing
patients have none on file (the columns are empty) until someone records it.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

COLUMNS = (
    ("address_line1", 200),
    ("address_line2", 200),
    ("address_city", 100),
    ("address_state", 2),
    ("address_zip", 10),
)


def upgrade() -> None:
    for name, length in COLUMNS:
        op.add_column("patient", sa.Column(name, sa.String(length=length), nullable=True))


def downgrade() -> None:
    # ALTER TABLE … DROP COLUMN in place (SQLite 3.35 and later): a batch copy of the table would
    # drop and recreate ``patient``, which every patient's records point to.
    for name, _ in reversed(COLUMNS):
        op.drop_column("patient", name)
