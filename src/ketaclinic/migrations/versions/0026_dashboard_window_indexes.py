"""dashboard indexes that keep its lookups to the window's sessions and patients

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-02

The lead rechains this after 0025 at merge. ``infusion_session (clinic_id, scheduled_at, state,
protocol_version_id, chair_id, patient_id, chair_held_until)`` replaces ``(clinic_id,
scheduled_at)``: the dashboard's per-week, per-protocol, per-chair and treated-patient counts read
the window's sessions from the index alone on SQLite (its CPU time for those halved; state in the
key costs PostgreSQL its HOT updates on a state change, a few per session).

``session_event (session_id, kind, at)`` replaces ``(session_id, kind)`` (its prefix, so every
lookup that used it still can): the dashboard's chair time reads each window session's check-in and
discharge instants from the index alone, instead of every check-in, discharge and abort the clinic
ever charted. ``measurement (patient_id, instrument, measured_at)``: a patient's latest NRS or
PHQ-9 is one index probe, so the overdue list no longer scans every questionnaire; ``measurement
(patient_id, instrument, context, measured_at)``: the latest baselines read ~2,000 rows, not every
patient's every questionnaire. ``session_event (kind, session_id)``: PostgreSQL reads the
side-effect events (4 % of the bench's events) for the adverse-event rate instead of scanning every
event (EXPLAIN ANALYZE: 26-80 ms -> 11-16 ms on a loaded machine). Measured with
bench/pages_bench.py (README, "Speed of the pages").
"""

from __future__ import annotations

from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


#: Written out, not imported: a migration keeps the shape it had when it was written.
WINDOW_INDEX_COLUMNS = [
    "clinic_id",
    "scheduled_at",
    "state",
    "protocol_version_id",
    "chair_id",
    "patient_id",
    "chair_held_until",
]


def upgrade() -> None:
    op.create_index("ix_infusion_session_clinic_window", "infusion_session", WINDOW_INDEX_COLUMNS)
    op.drop_index("ix_infusion_session_clinic_id_scheduled_at", table_name="infusion_session")
    op.create_index(
        "ix_session_event_session_id_kind_at",
        "session_event",
        ["session_id", "kind", "at"],
        unique=False,
    )
    op.drop_index("ix_session_event_session_id_kind", table_name="session_event")
    op.create_index(
        "ix_session_event_kind_session_id", "session_event", ["kind", "session_id"], unique=False
    )
    op.create_index(
        "ix_measurement_patient_id_instrument_measured_at",
        "measurement",
        ["patient_id", "instrument", "measured_at"],
        unique=False,
    )
    op.create_index(
        "ix_measurement_patient_id_instrument_context_measured_at",
        "measurement",
        ["patient_id", "instrument", "context", "measured_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        "ix_measurement_patient_id_instrument_context_measured_at", table_name="measurement"
    )
    op.drop_index("ix_measurement_patient_id_instrument_measured_at", table_name="measurement")
    op.create_index(
        "ix_session_event_session_id_kind", "session_event", ["session_id", "kind"], unique=False
    )
    op.drop_index("ix_session_event_kind_session_id", table_name="session_event")
    op.drop_index("ix_session_event_session_id_kind_at", table_name="session_event")
    op.create_index(
        "ix_infusion_session_clinic_id_scheduled_at",
        "infusion_session",
        ["clinic_id", "scheduled_at"],
        unique=False,
    )
    op.drop_index("ix_infusion_session_clinic_window", table_name="infusion_session")
