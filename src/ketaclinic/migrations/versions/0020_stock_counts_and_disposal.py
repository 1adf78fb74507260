"""stock counts, discrepancies and disposals of controlled substances

A count records what two people found against what the ledger expected; a difference opens a
discrepancy until a physician resolves it; a disposal points to its DISPOSE ledger entries. None of
these tables holds a balance: stock moves only through the ledger (0019).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ketaclinic.db

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stock_count",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("timing", sa.String(length=8), nullable=False),
        sa.Column("taken_at", ketaclinic.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("by_user_id", sa.Integer(), nullable=False),
        sa.Column("witness_user_id", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["by_user_id"], ["user_account.id"], name=op.f("fk_stock_count_by_user_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinic.id"], name=op.f("fk_stock_count_clinic_id_clinic")
        ),
        sa.ForeignKeyConstraint(
            ["witness_user_id"],
            ["user_account.id"],
            name=op.f("fk_stock_count_witness_user_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_count")),
    )
    with op.batch_alter_table("stock_count", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stock_count_clinic_id"), ["clinic_id"], unique=False)

    op.create_table(
        "stock_disposal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("at", ketaclinic.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("by_user_id", sa.Integer(), nullable=False),
        sa.Column("witness_user_id", sa.Integer(), nullable=False),
        sa.Column("second_witness_user_id", sa.Integer(), nullable=True),
        sa.Column("distributor_name", sa.String(length=200), nullable=True),
        sa.Column("distributor_dea_number", sa.String(length=9), nullable=True),
        sa.Column("distributor_address", sa.Text(), nullable=True),
        sa.Column("destruction_method", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["by_user_id"],
            ["user_account.id"],
            name=op.f("fk_stock_disposal_by_user_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinic.id"], name=op.f("fk_stock_disposal_clinic_id_clinic")
        ),
        sa.ForeignKeyConstraint(
            ["second_witness_user_id"],
            ["user_account.id"],
            name=op.f("fk_stock_disposal_second_witness_user_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["witness_user_id"],
            ["user_account.id"],
            name=op.f("fk_stock_disposal_witness_user_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_disposal")),
    )
    with op.batch_alter_table("stock_disposal", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stock_disposal_clinic_id"), ["clinic_id"], unique=False
        )

    op.create_table(
        "stock_count_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("count_id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("expected_mg", ketaclinic.db.ExactQuantity(), nullable=False),
        sa.Column("sealed_containers", sa.Integer(), nullable=False),
        sa.Column("opened_ml", ketaclinic.db.ExactQuantity(), nullable=False),
        sa.Column("opened_estimated", sa.Boolean(), nullable=False),
        sa.Column("counted_mg", ketaclinic.db.ExactQuantity(), nullable=False),
        sa.ForeignKeyConstraint(
            ["count_id"], ["stock_count.id"], name=op.f("fk_stock_count_line_count_id_stock_count")
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["storage_location.id"],
            name=op.f("fk_stock_count_line_location_id_storage_location"),
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["stock_lot.id"], name=op.f("fk_stock_count_line_lot_id_stock_lot")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_count_line")),
    )
    with op.batch_alter_table("stock_count_line", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stock_count_line_count_id"), ["count_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_stock_count_line_lot_id"), ["lot_id"], unique=False)

    op.create_table(
        "stock_discrepancy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("count_line_id", sa.Integer(), nullable=False),
        sa.Column("difference_mg", ketaclinic.db.ExactQuantity(), nullable=False),
        sa.Column("resolution", sa.String(length=20), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("resolved_at", ketaclinic.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_by_user_id", sa.Integer(), nullable=True),
        sa.Column(
            "ledger_entry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("significant", sa.Boolean(), nullable=False),
        sa.Column("loss_type", sa.String(length=24), nullable=True),
        sa.Column("dea_notified_at", ketaclinic.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("dea_notified_by_user_id", sa.Integer(), nullable=True),
        sa.Column("dea_notification", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinic.id"], name=op.f("fk_stock_discrepancy_clinic_id_clinic")
        ),
        sa.ForeignKeyConstraint(
            ["count_line_id"],
            ["stock_count_line.id"],
            name=op.f("fk_stock_discrepancy_count_line_id_stock_count_line"),
        ),
        sa.ForeignKeyConstraint(
            ["dea_notified_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_stock_discrepancy_dea_notified_by_user_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["ledger_entry_id"],
            ["ledger_entry.id"],
            name=op.f("fk_stock_discrepancy_ledger_entry_id_ledger_entry"),
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_stock_discrepancy_resolved_by_user_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_discrepancy")),
        sa.UniqueConstraint("count_line_id", name=op.f("uq_stock_discrepancy_count_line_id")),
    )
    with op.batch_alter_table("stock_discrepancy", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stock_discrepancy_clinic_id"), ["clinic_id"], unique=False
        )

    op.create_table(
        "stock_disposal_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("disposal_id", sa.Integer(), nullable=False),
        sa.Column(
            "ledger_entry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["disposal_id"],
            ["stock_disposal.id"],
            name=op.f("fk_stock_disposal_line_disposal_id_stock_disposal"),
        ),
        sa.ForeignKeyConstraint(
            ["ledger_entry_id"],
            ["ledger_entry.id"],
            name=op.f("fk_stock_disposal_line_ledger_entry_id_ledger_entry"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_disposal_line")),
        sa.UniqueConstraint("ledger_entry_id", name=op.f("uq_stock_disposal_line_ledger_entry_id")),
    )
    with op.batch_alter_table("stock_disposal_line", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stock_disposal_line_disposal_id"), ["disposal_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("stock_disposal_line", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stock_disposal_line_disposal_id"))

    op.drop_table("stock_disposal_line")
    with op.batch_alter_table("stock_discrepancy", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stock_discrepancy_clinic_id"))

    op.drop_table("stock_discrepancy")
    with op.batch_alter_table("stock_count_line", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stock_count_line_lot_id"))
        batch_op.drop_index(batch_op.f("ix_stock_count_line_count_id"))

    op.drop_table("stock_count_line")
    with op.batch_alter_table("stock_disposal", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stock_disposal_clinic_id"))

    op.drop_table("stock_disposal")
    with op.batch_alter_table("stock_count", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stock_count_clinic_id"))

    op.drop_table("stock_count")
