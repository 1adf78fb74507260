from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.accounts.core import (
    NO_FAILURES,
    LockoutPolicy,
    LoginState,
    Permission,
    Role,
    after_failure,
    digest,
    forget_at,
    is_locked,
    may,
    password_problem,
    recent_failures,
)

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
POLICY = LockoutPolicy(max_failures=3, lock_for=timedelta(minutes=15))
minutes = st.integers(min_value=0, max_value=120)


def _fail_at(*offsets_min: float) -> LoginState:
    state = NO_FAILURES
    for offset in offsets_min:
        state = after_failure(state, POLICY, T0 + timedelta(minutes=offset))
    return state


def test_the_third_failure_within_the_window_locks_for_the_policy_time() -> None:
    state = NO_FAILURES
    for _ in range(2):
        state = after_failure(state, POLICY, T0)
        assert not is_locked(state, T0)
    state = after_failure(state, POLICY, T0)
    assert is_locked(state, T0 + timedelta(minutes=14, seconds=59))
    assert not is_locked(state, T0 + timedelta(minutes=15))


def test_failures_older_than_the_window_are_forgotten() -> None:
    state = _fail_at(0, 10, 15)  # the window opened at 0 closes at 15: the third starts anew
    assert not is_locked(state, T0 + timedelta(minutes=15))
    assert state == LoginState(1, T0 + timedelta(minutes=15), None)
    assert recent_failures(_fail_at(0, 1), POLICY, T0 + timedelta(minutes=20)) == 0


def test_failing_while_locked_does_not_extend_the_lock() -> None:
    locked = _fail_at(0, 1, 2)
    assert _fail_at(0, 1, 2, 10) == locked
    assert locked.locked_until == T0 + timedelta(minutes=17)


def test_after_the_lock_ends_the_count_starts_again() -> None:
    state = _fail_at(0, 1, 2, 17)
    assert not is_locked(state, T0 + timedelta(minutes=17))
    assert state.failed_count == 1


@given(st.lists(minutes, max_size=POLICY.max_failures - 1))
def test_fewer_failures_than_the_limit_never_lock(offsets: list[int]) -> None:
    state = _fail_at(*sorted(offsets))
    assert not any(is_locked(state, T0 + timedelta(minutes=m)) for m in range(0, 180, 5))


@given(st.lists(minutes, min_size=1, max_size=12))
def test_a_state_means_nothing_once_forgotten(offsets: list[int]) -> None:
    state = _fail_at(*sorted(offsets))
    gone = forget_at(state, POLICY)
    assert not is_locked(state, gone)
    assert recent_failures(state, POLICY, gone) == 0
    assert gone >= T0 + timedelta(minutes=max(offsets))


def test_secrets_are_stored_as_their_sha256() -> None:
    assert digest("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


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


def test_front_desk_staff_read_no_clinical_content_and_only_clinical_readers_record_scores() -> (
    None
):
    assert may(Role.STAFF, Permission.PATIENT_READ)
    assert not may(Role.STAFF, Permission.CLINICAL_READ)
    assert not may(Role.STAFF, Permission.MEASUREMENT_RECORD)
    recorders = [role for role in Role if may(role, Permission.MEASUREMENT_RECORD)]
    assert recorders == [Role.PHYSICIAN, Role.NURSE]
    assert all(may(role, Permission.CLINICAL_READ) for role in recorders)
