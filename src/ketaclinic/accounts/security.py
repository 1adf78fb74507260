"""Password hashing (argon2id) and signed API tokens."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer

_hasher = PasswordHasher()  # argon2id with the library's RFC 9106 low-memory profile
# A constant hash to verify against when the username is unknown, so timing does not tell.
_DUMMY_HASH = _hasher.hash("not-a-real-password-for-timing")
_TOKEN_SALT = "ketaclinic.api-token"  # noqa: S105  (a namespace, not a secret)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def issue_token(secret: str, user_id: int) -> str:
    return URLSafeTimedSerializer(secret, salt=_TOKEN_SALT).dumps({"uid": user_id})


def read_token(secret: str, token: str, max_age_s: int) -> int | None:
    """The user id a token was issued to, or None if it is forged or expired."""
    try:
        data = URLSafeTimedSerializer(secret, salt=_TOKEN_SALT).loads(token, max_age=max_age_s)
    except BadSignature:
        return None
    uid = data.get("uid") if isinstance(data, dict) else None
    return uid if isinstance(uid, int) else None
