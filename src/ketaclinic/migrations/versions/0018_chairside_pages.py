"""chairside pages

Reserved for issue 11 (chairside safety) so its parts can be built side by side; filled in by
the part that needs a schema change.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01
"""

from __future__ import annotations

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
