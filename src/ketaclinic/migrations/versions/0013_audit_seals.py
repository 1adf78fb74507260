"""audit seals: a MAC per event and sealed batches instead of one chain head every writer updates

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01

Existing events are first checked against the old SHA-256 chain; the result (intact, or where it
breaks) is kept as an ``audit.upgraded`` event, and every event gets its MAC with the audit key, which
``ketaclinic db upgrade`` passes in. The hashing below is frozen here on purpose: a migration must
keep doing what it did when it was written, whatever the application code becomes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import context, op

import ketaclinic.db

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

FIELDS = (
    "occurred_at",
    "action",
    "user_id",
    "username",
    "role",
    "clinic_id",
    "patient_id",
    "client_address",
    "detail",
)
LEGACY_GENESIS = "0" * 64


def _instant(value: datetime | str) -> datetime:
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)


def _canonical(record: dict[str, Any]) -> bytes:
    record = dict(record)
    record["occurred_at"] = _instant(record["occurred_at"]).isoformat(timespec="microseconds")
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _legacy_hash(row: dict[str, Any], prev: str) -> str:
    record = {name: row[name] for name in ("seq", *FIELDS)}
    record["prev_hash"] = prev
    return hashlib.sha256(_canonical(record)).hexdigest()


def _event_mac(key: bytes, row: dict[str, Any]) -> str:
    record = {name: row[name] for name in FIELDS}
    record["kind"] = "event"
    return hmac.new(key, _canonical(record), hashlib.sha256).hexdigest()


def _legacy_verdict(rows: list[dict[str, Any]], head: tuple[int, str] | None) -> str:
    """What the old chain said at the upgrade, in the words ``audit verify`` used."""
    prev, expected = LEGACY_GENESIS, 1
    for row in rows:
        if row["seq"] != expected:
            return f"legacy chain broken: event {expected} is missing"
        if row["prev_hash"] != prev or _legacy_hash(row, prev) != row["hash"]:
            return f"legacy chain broken at event {row['seq']}"
        prev, expected = row["hash"], expected + 1
    if head is None or head != (expected - 1, prev):
        return f"legacy chain broken: events after {expected - 1} were removed"
    return f"legacy chain intact: {len(rows)} events, head {prev[:16]}"


def _drop_append_only(dialect: str) -> None:
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event")


def _carry_legacy_events(dialect: str) -> None:
    bind = op.get_bind()
    rows = [
        dict(r._mapping) for r in bind.execute(sa.text("SELECT * FROM audit_event ORDER BY seq"))
    ]
    if not rows:
        return
    key_source = context.config.attributes.get("audit_key")
    key = key_source() if callable(key_source) else None
    if not isinstance(key, bytes):
        raise RuntimeError(
            f"the audit trail holds {len(rows)} events: run `ketaclinic db upgrade`, which "
            "passes the audit key (KETACLINIC_AUDIT_KEY or the key file beside the database)"
        )
    head_row = bind.execute(sa.text("SELECT last_seq, last_hash FROM audit_chain_head")).first()
    head = (int(head_row[0]), str(head_row[1])) if head_row is not None else None
    verdict = _legacy_verdict(rows, head)
    legacy_key = 0 if dialect == "postgresql" else None  # sealed first, before any new event
    bind.execute(
        sa.text("UPDATE audit_event SET mac = :mac, xact_id = :xact WHERE id = :id"),
        [{"mac": _event_mac(key, r), "xact": legacy_key, "id": r["id"]} for r in rows],
    )
    marker = {
        "occurred_at": datetime.now(UTC),
        "action": "audit.upgraded",
        "user_id": None,
        "username": "system",
        "role": None,
        "clinic_id": None,
        "patient_id": None,
        "client_address": None,
        "detail": verdict,
    }
    bind.execute(
        sa.text(
            "INSERT INTO audit_event (seq, occurred_at, action, user_id, username, role, "
            "clinic_id, patient_id, client_address, detail, prev_hash, hash, xact_id, mac) "
            "VALUES (:seq, :occurred_at, :action, :user_id, :username, :role, :clinic_id, "
            ":patient_id, :client_address, :detail, '', '', :xact, :mac)"
        ).bindparams(sa.bindparam("occurred_at", type_=ketaclinic.db.UTCDateTime())),
        {**marker, "seq": rows[-1]["seq"] + 1, "xact": legacy_key, "mac": _event_mac(key, marker)},
    )


def _forbid_changes(dialect: str) -> None:
    """Both tables are append-only; PostgreSQL also refuses TRUNCATE (which fires no row
    triggers). Someone who may drop triggers can still change rows: the MACs catch that."""
    for table in ("audit_event", "audit_seal"):
        if dialect == "sqlite":
            for verb in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                    "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END"
                )
            continue
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()"
        )


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    _drop_append_only(dialect)
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("xact_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("mac", sa.String(length=64), nullable=True))
    _carry_legacy_events(dialect)
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.alter_column("mac", existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_constraint(batch_op.f("uq_audit_event_seq"), type_="unique")
        batch_op.drop_column("seq")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("hash")
        batch_op.create_index(
            "ix_audit_event_xact_id_id",
            ["xact_id", "id"],
            unique=False,
            postgresql_where=sa.text("xact_id IS NOT NULL"),
            sqlite_where=sa.text("xact_id IS NOT NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_audit_event_action"))
    if dialect == "postgresql":
        op.execute("ALTER TABLE audit_event ALTER COLUMN id TYPE BIGINT")
        op.execute("ALTER SEQUENCE audit_event_id_seq AS BIGINT")
    op.drop_table("audit_chain_head")
    op.create_table(
        "audit_seal",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("sealed_at", ketaclinic.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("key_from", sa.BigInteger(), nullable=False),
        sa.Column("key_to", sa.BigInteger(), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("first_event_id", sa.BigInteger(), nullable=True),
        sa.Column("last_event_id", sa.BigInteger(), nullable=True),
        sa.Column("events_digest", sa.String(length=64), nullable=False),
        sa.Column("prev_mac", sa.String(length=64), nullable=False),
        sa.Column("mac", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_seal")),
    )
    _forbid_changes(dialect)


def downgrade() -> None:
    """Back to one SHA-256 chain: seals are dropped, events re-chained in id order."""
    dialect = op.get_bind().dialect.name
    for table in ("audit_event", "audit_seal"):
        if dialect == "sqlite":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    op.drop_table("audit_seal")
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
    bind = op.get_bind()
    rows = [
        dict(r._mapping) for r in bind.execute(sa.text("SELECT * FROM audit_event ORDER BY id"))
    ]
    prev, updates = LEGACY_GENESIS, []
    for seq, row in enumerate(rows, start=1):
        row["seq"] = seq
        digest = _legacy_hash(row, prev)
        updates.append({"seq": seq, "prev": prev, "hash": digest, "id": row["id"]})
        prev = digest
    if updates:
        bind.execute(
            sa.text(
                "UPDATE audit_event SET seq = :seq, prev_hash = :prev, hash = :hash WHERE id = :id"
            ),
            updates,
        )
    bind.execute(
        sa.text("INSERT INTO audit_chain_head (id, last_seq, last_hash) VALUES (1, :seq, :hash)"),
        {"seq": len(rows), "hash": prev},
    )
    if dialect == "postgresql":
        op.execute("ALTER SEQUENCE audit_event_id_seq AS INTEGER")
        op.execute("ALTER TABLE audit_event ALTER COLUMN id TYPE INTEGER")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_xact_id_id")
        batch_op.create_index(batch_op.f("ix_audit_event_action"), ["action"], unique=False)
        batch_op.drop_column("mac")
        batch_op.drop_column("xact_id")
        batch_op.alter_column("seq", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_audit_event_seq"), ["seq"])
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_event_no_{verb.lower()} BEFORE {verb} ON audit_event "
                "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END"
            )
    else:
        op.execute(
            "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event "
            "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()"
        )
