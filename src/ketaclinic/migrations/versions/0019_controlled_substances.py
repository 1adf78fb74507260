"""controlled substances: registration, products, lots, locations, receipts and the ledger

The ledger is append-only: the database refuses UPDATE and DELETE on it (and TRUNCATE on
PostgreSQL), like the audit trail. A mistake is corrected by a further, reversing entry.
Quantities are whole numbers of 10**-9 mg or mL (``db.ExactQuantity``): sums are exact on both
databases.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ketaclinic.db

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "drug_product",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("substance", sa.String(length=40), nullable=False),
        sa.Column("schedule", sa.String(length=4), nullable=False),
        sa.Column("form", sa.String(length=60), nullable=False),
        sa.Column("concentration_mg_per_ml", ketaclinic.db.ExactQuantity(), nullable=False),
        sa.Column("container_ml", ketaclinic.db.ExactQuantity(), nullable=False),
        sa.Column("ndc", sa.String(length=11), nullable=False),
        sa.Column("manufacturer", sa.String(length=120), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinic.id"], name=op.f("fk_drug_product_clinic_id_clinic")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drug_product")),
        sa.UniqueConstraint("clinic_id", "ndc", name=op.f("uq_drug_product_clinic_id_ndc")),
    )
    with op.batch_alter_table("drug_product", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_drug_product_clinic_id"), ["clinic_id"], unique=False)

    op.create_table(
        "storage_location",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinic.id"], name=op.f("fk_storage_location_clinic_id_clinic")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_storage_location")),
        sa.UniqueConstraint("clinic_id", "name", name=op.f("uq_storage_location_clinic_id_name")),
    )
    with op.batch_alter_table("storage_location", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_storage_location_clinic_id"), ["clinic_id"], unique=False
        )

    op.create_table(
        "stock_lot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("lot_number", sa.String(length=40), nullable=False),
        sa.Column("expiry_date", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinic.id"], name=op.f("fk_stock_lot_clinic_id_clinic")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["drug_product.id"], name=op.f("fk_stock_lot_product_id_drug_product")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_lot")),
        sa.UniqueConstraint(
            "product_id", "lot_number", name=op.f("uq_stock_lot_product_id_lot_number")
        ),
    )
    with op.batch_alter_table("stock_lot", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stock_lot_clinic_id"), ["clinic_id"], unique=False)

    op.create_table(
        "dea_registration",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("registrant_name", sa.String(length=200), nullable=False),
        sa.Column("dea_number", sa.String(length=9), nullable=False),
        sa.Column("schedules", sa.String(length=40), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("expires_date", sa.Date(), nullable=False),
        sa.Column("recorded_at", ketaclinic.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recorded_by_user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinic.id"], name=op.f("fk_dea_registration_clinic_id_clinic")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_dea_registration_recorded_by_user_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dea_registration")),
        sa.UniqueConstraint(
            "clinic_id",
            "dea_number",
            "expires_date",
            name=op.f("uq_dea_registration_clinic_id_dea_number_expires_date"),
        ),
    )
    with op.batch_alter_table("dea_registration", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dea_registration_clinic_id"), ["clinic_id"], unique=False
        )

    op.create_table(
        "stock_receipt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("supplier_name", sa.String(length=200), nullable=False),
        sa.Column("supplier_address", sa.Text(), nullable=False),
        sa.Column("supplier_dea_number", sa.String(length=9), nullable=False),
        sa.Column("invoice_number", sa.String(length=80), nullable=False),
        sa.Column("received_date", sa.Date(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("entered_by_user_id", sa.Integer(), nullable=False),
        sa.Column("entered_at", ketaclinic.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("confirmed_by_user_id", sa.Integer(), nullable=True),
        sa.Column("confirmed_at", ketaclinic.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinic.id"], name=op.f("fk_stock_receipt_clinic_id_clinic")
        ),
        sa.ForeignKeyConstraint(
            ["confirmed_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_stock_receipt_confirmed_by_user_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["entered_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_stock_receipt_entered_by_user_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["storage_location.id"],
            name=op.f("fk_stock_receipt_location_id_storage_location"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_receipt")),
    )
    with op.batch_alter_table("stock_receipt", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stock_receipt_clinic_id"), ["clinic_id"], unique=False)

    op.create_table(
        "receipt_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("receipt_id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column("containers", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["stock_lot.id"], name=op.f("fk_receipt_line_lot_id_stock_lot")
        ),
        sa.ForeignKeyConstraint(
            ["receipt_id"],
            ["stock_receipt.id"],
            name=op.f("fk_receipt_line_receipt_id_stock_receipt"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receipt_line")),
    )
    with op.batch_alter_table("receipt_line", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_receipt_line_receipt_id"), ["receipt_id"], unique=False
        )

    op.create_table(
        "ledger_entry",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("at", ketaclinic.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("by_user_id", sa.Integer(), nullable=False),
        sa.Column("witness_user_id", sa.Integer(), nullable=True),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=True),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("receipt_id", sa.Integer(), nullable=True),
        sa.Column("quantity_mg", ketaclinic.db.ExactQuantity(), nullable=False),
        sa.Column("volume_ml", ketaclinic.db.ExactQuantity(), nullable=False),
        sa.Column("containers", sa.Integer(), nullable=True),
        sa.Column("stock_delta_mg", ketaclinic.db.ExactQuantity(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("manner", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["by_user_id"],
            ["user_account.id"],
            name=op.f("fk_ledger_entry_by_user_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinic.id"], name=op.f("fk_ledger_entry_clinic_id_clinic")
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["storage_location.id"],
            name=op.f("fk_ledger_entry_location_id_storage_location"),
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["stock_lot.id"], name=op.f("fk_ledger_entry_lot_id_stock_lot")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_ledger_entry_patient_id_patient")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["drug_product.id"],
            name=op.f("fk_ledger_entry_product_id_drug_product"),
        ),
        sa.ForeignKeyConstraint(
            ["receipt_id"],
            ["stock_receipt.id"],
            name=op.f("fk_ledger_entry_receipt_id_stock_receipt"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["infusion_session.id"],
            name=op.f("fk_ledger_entry_session_id_infusion_session"),
        ),
        sa.ForeignKeyConstraint(
            ["witness_user_id"],
            ["user_account.id"],
            name=op.f("fk_ledger_entry_witness_user_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entry")),
    )
    with op.batch_alter_table("ledger_entry", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_entry_clinic_id_at", ["clinic_id", "at"], unique=False)
        batch_op.create_index(
            "ix_ledger_entry_lot_id_location_id",
            ["lot_id", "location_id", "stock_delta_mg"],
            unique=False,
        )
        batch_op.create_index(
            "ix_ledger_entry_clinic_id_lot_id_location_id",
            ["clinic_id", "lot_id", "location_id", "stock_delta_mg"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_ledger_entry_patient_id"), ["patient_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ledger_entry_receipt_id"), ["receipt_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ledger_entry_session_id"), ["session_id"], unique=False
        )
    _forbid_changes(op.get_bind().dialect.name)


def downgrade() -> None:
    _allow_changes(op.get_bind().dialect.name)
    with op.batch_alter_table("ledger_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_entry_session_id"))
        batch_op.drop_index(batch_op.f("ix_ledger_entry_receipt_id"))
        batch_op.drop_index(batch_op.f("ix_ledger_entry_patient_id"))
        batch_op.drop_index("ix_ledger_entry_clinic_id_lot_id_location_id")
        batch_op.drop_index("ix_ledger_entry_lot_id_location_id")
        batch_op.drop_index("ix_ledger_entry_clinic_id_at")

    op.drop_table("ledger_entry")
    with op.batch_alter_table("receipt_line", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_receipt_line_receipt_id"))

    op.drop_table("receipt_line")
    with op.batch_alter_table("stock_receipt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stock_receipt_clinic_id"))

    op.drop_table("stock_receipt")
    with op.batch_alter_table("dea_registration", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dea_registration_clinic_id"))

    op.drop_table("dea_registration")
    with op.batch_alter_table("stock_lot", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stock_lot_clinic_id"))

    op.drop_table("stock_lot")
    with op.batch_alter_table("storage_location", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_storage_location_clinic_id"))

    op.drop_table("storage_location")
    with op.batch_alter_table("drug_product", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_drug_product_clinic_id"))

    op.drop_table("drug_product")


def _forbid_changes(dialect: str) -> None:
    """Ledger entries are facts: nobody edits or removes one, whatever the application does."""
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER ledger_entry_no_{verb.lower()} BEFORE {verb} ON ledger_entry "
                "BEGIN SELECT RAISE(ABORT, 'the controlled-substance ledger is append-only'); END"
            )
        return
    op.execute(
        "CREATE FUNCTION ledger_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'the controlled-substance ledger is append-only'; END $$"
    )
    op.execute(
        "CREATE TRIGGER ledger_entry_append_only BEFORE UPDATE OR DELETE ON ledger_entry "
        "FOR EACH ROW EXECUTE FUNCTION ledger_entry_append_only()"
    )
    op.execute(
        "CREATE TRIGGER ledger_entry_no_truncate BEFORE TRUNCATE ON ledger_entry "
        "FOR EACH STATEMENT EXECUTE FUNCTION ledger_entry_append_only()"
    )


def _allow_changes(dialect: str) -> None:
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS ledger_entry_no_update")
        op.execute("DROP TRIGGER IF EXISTS ledger_entry_no_delete")
        return
    op.execute("DROP TRIGGER IF EXISTS ledger_entry_append_only ON ledger_entry")
    op.execute("DROP TRIGGER IF EXISTS ledger_entry_no_truncate ON ledger_entry")
    op.execute("DROP FUNCTION IF EXISTS ledger_entry_append_only()")
