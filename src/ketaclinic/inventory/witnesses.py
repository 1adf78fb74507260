"""A witness signs with their own username and password on the nurse's device.

The password is hashed before the transaction begins (``accounts.service.check_password``: a
tenth of a second of CPU must not hold a lock). A wrong password counts toward that username's
lockout exactly like a failed login, so a witness box is no way around it.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from ketaclinic import clock
from ketaclinic.accounts import service as accounts
from ketaclinic.accounts import throttle
from ketaclinic.accounts.core import is_locked
from ketaclinic.config import Settings
from ketaclinic.errors import InvalidInput
from ketaclinic.inventory.schemas import WitnessIn
from ketaclinic.inventory.service import Witness

WITNESS_LOC = ("body", "witness")


def check_witness(session: Session, settings: Settings, data: WitnessIn) -> Witness:
    """The witness's account once their password is right and their name not locked out.
    ``session`` must have no transaction open; the caller's transaction re-checks the rest."""
    check = accounts.check_password(session, username=data.username, password=data.password)
    policy = accounts.lockout_policy(settings.lockout_failures, settings.lockout_minutes)
    with session.begin():
        now = clock.now()
        if is_locked(throttle.current(session, typed=data.username), now):
            raise InvalidInput(
                "the witness's account is locked after failed logins", loc=WITNESS_LOC
            )
        if check.user_id is None or check.verified_hash is None:
            throttle.record_failure(session, typed=data.username, policy=policy, at=now)
        else:
            return Witness(user_id=check.user_id, password_hash=check.verified_hash)
    raise InvalidInput("the witness's username or password is wrong", loc=WITNESS_LOC)
