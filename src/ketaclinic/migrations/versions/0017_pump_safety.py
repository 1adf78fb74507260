"""pump safety: blind double check, rates, stopping early

Reserved for issue 11 (chairside safety) so its parts can be built side by side; filled in by
the part that needs a schema change.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01
"""

from __future__ import annotations

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
