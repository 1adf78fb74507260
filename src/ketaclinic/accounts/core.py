"""Roles, what each may do, the lockout rule and how sign-in secrets are stored. Pure: no I/O."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    PHYSICIAN = "physician"
    NURSE = "nurse"
    STAFF = "staff"
    PATIENT = "patient"


class Permission(StrEnum):
    PATIENT_READ = "patient.read"
    PATIENT_WRITE = "patient.write"
    CLINICAL_READ = "clinical.read"
    MEASUREMENT_RECORD = "measurement.record"
    DIAGNOSIS_WRITE = "diagnosis.write"
    AUDIT_READ = "audit.read"
    PK_USE = "pk.use"
    SCREENING_SIGN = "screening.sign"
    PROTOCOL_READ = "protocol.read"
    PROTOCOL_EDIT = "protocol.edit"
    DOSE_PLAN = "dose.plan"
    SESSION_RUN = "session.run"
    ORDER_SIGN = "order.sign"
    ORDER_VERIFY = "order.verify"
    COURSE_MANAGE = "course.manage"
    DASHBOARD_READ = "dashboard.read"
    REPORT_READ = "report.read"
    USER_MANAGE = "user.manage"
    INVENTORY_READ = "inventory.read"
    INVENTORY_MOVE = "inventory.move"
    INVENTORY_MANAGE = "inventory.manage"
    SCHEDULE_READ = "schedule.read"
    SCHEDULE_BOOK = "schedule.book"
    SCHEDULE_MANAGE = "schedule.manage"


CLINICAL_STAFF = frozenset({Role.PHYSICIAN, Role.NURSE, Role.STAFF})
CLINICIANS = frozenset({Role.PHYSICIAN, Role.NURSE})

# Admins run accounts and the audit trail; they do not read clinical records (least privilege).
# Diagnoses come from clinicians; front-desk staff register and update demographics (the record
# they enter at registration: identity, weight, allergies, medications, diagnoses on referral).
ROLE_PERMISSIONS: dict[Permission, frozenset[Role]] = {
    Permission.PATIENT_READ: CLINICAL_STAFF,
    Permission.PATIENT_WRITE: CLINICAL_STAFF,
    # Screening answers and findings, questionnaire answers and scores, the outcome chart and
    # clinical notes: what clinicians need and the front desk does not (least privilege).
    Permission.CLINICAL_READ: CLINICIANS,
    # Recording a questionnaire answers with its score and band, so only clinical readers do.
    Permission.MEASUREMENT_RECORD: CLINICIANS,
    Permission.DIAGNOSIS_WRITE: CLINICIANS,
    Permission.AUDIT_READ: frozenset({Role.ADMIN}),
    Permission.PK_USE: frozenset({Role.PHYSICIAN, Role.NURSE}),
    Permission.SCREENING_SIGN: frozenset({Role.PHYSICIAN}),
    Permission.PROTOCOL_READ: frozenset({Role.ADMIN, Role.PHYSICIAN, Role.NURSE}),
    Permission.PROTOCOL_EDIT: frozenset({Role.ADMIN}),
    Permission.DOSE_PLAN: frozenset({Role.PHYSICIAN, Role.NURSE}),
    Permission.SESSION_RUN: frozenset({Role.PHYSICIAN, Role.NURSE}),
    Permission.ORDER_SIGN: frozenset({Role.PHYSICIAN}),
    # The second check of an order is a nurse's (DESIGN §3: "second-nurse check").
    Permission.ORDER_VERIFY: frozenset({Role.NURSE}),
    # Starting and ending a course of treatment is a prescribing decision.
    Permission.COURSE_MANAGE: frozenset({Role.PHYSICIAN}),
    # A progress report gathers doses, outcomes and adverse events for another clinician.
    Permission.REPORT_READ: frozenset({Role.PHYSICIAN, Role.NURSE}),
    # Clinic-wide counts: admins see them without patient names; front-desk staff do not.
    Permission.DASHBOARD_READ: frozenset({Role.ADMIN, Role.PHYSICIAN, Role.NURSE}),
    # Creating accounts, resetting passwords and unlocking: the "run accounts" part of admin.
    Permission.USER_MANAGE: frozenset({Role.ADMIN}),
    # Controlled substances: admins read the records and reports but never handle the drug;
    # licensed clinicians receive, move, draw and waste it; staff and patients never.
    Permission.INVENTORY_READ: frozenset({Role.ADMIN, Role.PHYSICIAN, Role.NURSE}),
    Permission.INVENTORY_MOVE: CLINICIANS,
    # The registration, the products stocked and the locked locations: the registrant's side.
    Permission.INVENTORY_MANAGE: frozenset({Role.ADMIN, Role.PHYSICIAN}),
    # The appointment book: everyone on staff reads the chairs and hours; the front desk books,
    # moves and cancels bookings with the clinicians (not clinical actions); an admin keeps the
    # chairs, the hours, the closures and the booking policy.
    Permission.SCHEDULE_READ: frozenset({Role.ADMIN, Role.PHYSICIAN, Role.NURSE, Role.STAFF}),
    Permission.SCHEDULE_BOOK: CLINICAL_STAFF,
    Permission.SCHEDULE_MANAGE: frozenset({Role.ADMIN}),
}

PASSWORD_MIN_LENGTH = 10


def may(role: Role, permission: Permission) -> bool:
    """Whether ``role`` holds ``permission``."""
    return role in ROLE_PERMISSIONS[permission]


def password_problem(password: str) -> str | None:
    """Why a new password is unacceptable, or None. Length beats complexity rules (NIST 800-63B)."""
    if len(password) < PASSWORD_MIN_LENGTH:
        return f"a password needs at least {PASSWORD_MIN_LENGTH} characters"
    if password.strip() != password:
        return "a password may not start or end with spaces"
    return None


class SessionKind(StrEnum):
    """How a sign-in is carried: the browser's session cookie or an API bearer token. Neither
    works in the other's place (the API stays CSRF-safe)."""

    WEB = "web"
    API = "api"


def digest(secret: str) -> str:
    """The SHA-256 (hex) under which a session key, a token or a typed username is stored. The
    keys are 256-bit random, so a plain hash suffices: nothing to guess offline."""
    return hashlib.sha256(secret.encode()).hexdigest()


def normalise_username(typed: str) -> str:
    """The username a login looks up and counts failures against: as typed, without the
    surrounding spaces a form may add."""
    return typed.strip()


@dataclass(frozen=True)
class LockoutPolicy:
    """``max_failures`` failed logins within ``lock_for`` lock the username for ``lock_for``."""

    max_failures: int
    lock_for: timedelta


@dataclass(frozen=True)
class LoginState:
    """The recent failed logins of one typed username."""

    failed_count: int
    window_started_at: datetime | None
    locked_until: datetime | None


NO_FAILURES = LoginState(failed_count=0, window_started_at=None, locked_until=None)


def is_locked(state: LoginState, at: datetime) -> bool:
    return state.locked_until is not None and at < state.locked_until


def _window_open(state: LoginState, policy: LockoutPolicy, at: datetime) -> bool:
    started = state.window_started_at
    return started is not None and at < started + policy.lock_for


def recent_failures(state: LoginState, policy: LockoutPolicy, at: datetime) -> int:
    """Failures that still count toward a lock at ``at``."""
    return state.failed_count if _window_open(state, policy, at) else 0


def after_failure(state: LoginState, policy: LockoutPolicy, at: datetime) -> LoginState:
    """Count a failed login. Failures older than the window are forgotten; reaching the limit
    within it locks the username for ``lock_for`` (a lock never extends itself)."""
    if is_locked(state, at):
        return state
    if _window_open(state, policy, at):
        count, started = state.failed_count + 1, state.window_started_at
    else:
        count, started = 1, at
    locked_until = at + policy.lock_for if count >= policy.max_failures else None
    return LoginState(failed_count=count, window_started_at=started, locked_until=locked_until)


def forget_at(state: LoginState, policy: LockoutPolicy) -> datetime:
    """When the state means nothing any more: the window is over and any lock has run out."""
    assert state.window_started_at is not None, "a state with failures has a window"
    window_end = state.window_started_at + policy.lock_for
    return max(window_end, state.locked_until) if state.locked_until else window_end


@dataclass(frozen=True)
class Actor:
    """Who is acting, as the audit trail and permission checks need it."""

    user_id: int | None
    username: str | None
    role: Role | None
    clinic_id: int | None
    client_address: str | None = None
    patient_id: int | None = None  # set for portal users: the one record they may see
