"""charting corrections: entered in error, late entries, alerts tied to their reading

Reserved for issue 11 (chairside safety) so its parts can be built side by side; filled in by
the part that needs a schema change.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01
"""

from __future__ import annotations

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
