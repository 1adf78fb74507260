"""Roles, what each may do, and the lockout rule. Pure: no I/O."""

from __future__ import annotations

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


CLINICAL_STAFF = frozenset({Role.PHYSICIAN, Role.NURSE, Role.STAFF})

# Admins run accounts and the audit trail; they do not read clinical records (least privilege).
# Diagnoses come from clinicians; front-desk staff register and update demographics.
ROLE_PERMISSIONS: dict[Permission, frozenset[Role]] = {
    Permission.PATIENT_READ: CLINICAL_STAFF,
    Permission.PATIENT_WRITE: CLINICAL_STAFF,
    Permission.DIAGNOSIS_WRITE: frozenset({Role.PHYSICIAN, Role.NURSE}),
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


@dataclass(frozen=True)
class LockoutPolicy:
    max_failures: int
    lock_for: timedelta


@dataclass(frozen=True)
class LoginState:
    failed_count: int
    locked_until: datetime | None


def is_locked(state: LoginState, at: datetime) -> bool:
    return state.locked_until is not None and at < state.locked_until


def after_failure(state: LoginState, policy: LockoutPolicy, at: datetime) -> LoginState:
    """Count a failed login; reaching the limit locks the account for a while."""
    failures = state.failed_count + 1
    if failures >= policy.max_failures:
        return LoginState(failed_count=0, locked_until=at + policy.lock_for)
    return LoginState(failed_count=failures, locked_until=state.locked_until)


def after_success() -> LoginState:
    return LoginState(failed_count=0, locked_until=None)


@dataclass(frozen=True)
class Actor:
    """Who is acting, as the audit trail and permission checks need it."""

    user_id: int | None
    username: str | None
    role: Role | None
    clinic_id: int | None
    client_address: str | None = None
    patient_id: int | None = None  # set for portal users: the one record they may see
