from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.accounts.core import (
    LockoutPolicy,
    LoginState,
    Permission,
    Role,
    after_failure,
    after_success,
    is_locked,
    may,
    password_problem,
)

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
POLICY = LockoutPolicy(max_failures=3, lock_for=timedelta(minutes=15))


def test_the_third_failure_locks_for_the_policy_time() -> None:
    state = LoginState(0, None)
    for _ in range(2):
        state = after_failure(state, POLICY, T0)
        assert not is_locked(state, T0)
    state = after_failure(state, POLICY, T0)
    assert is_locked(state, T0 + timedelta(minutes=14, seconds=59))
    assert not is_locked(state, T0 + timedelta(minutes=15))


def test_a_success_clears_the_failures() -> None:
    assert after_success() == LoginState(0, None)


@given(st.integers(min_value=0, max_value=50))
def test_fewer_failures_than_the_limit_never_lock(n: int) -> None:
    state = LoginState(0, None)
    for _ in range(min(n, POLICY.max_failures - 1)):
        state = after_failure(state, POLICY, T0)
    assert not is_locked(state, T0)


def test_admins_do_not_read_clinical_records_and_patients_use_only_the_portal() -> None:
    assert not may(Role.ADMIN, Permission.PATIENT_READ)
    assert may(Role.ADMIN, Permission.AUDIT_READ)
    assert not any(may(Role.PATIENT, p) for p in Permission)


def test_front_desk_staff_register_patients_but_do_not_diagnose() -> None:
    assert may(Role.STAFF, Permission.PATIENT_WRITE)
    assert not may(Role.STAFF, Permission.DIAGNOSIS_WRITE)


def test_short_passwords_are_refused() -> None:
    assert password_problem("short") is not None
    assert password_problem("long enough passphrase") is None
