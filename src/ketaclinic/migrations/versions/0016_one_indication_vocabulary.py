"""one indication vocabulary for screening and protocols

Reserved for issue 11 (chairside safety) so its parts can be built side by side; filled in by
the part that needs a schema change.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01
"""

from __future__ import annotations

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
