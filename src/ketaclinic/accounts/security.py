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


def issue_token(secret: str, user_id: int, credentials_version: int) -> str:
    payload = {"uid": user_id, "cv": credentials_version}
    return URLSafeTimedSerializer(secret, salt=_TOKEN_SALT).dumps(payload)


def read_token(secret: str, token: str, max_age_s: int) -> tuple[int, int] | None:
    """The user id and credentials version a token was issued with, or None if it is forged or
    expired. A password change moves the version, so older tokens stop working."""
    try:
        data = URLSafeTimedSerializer(secret, salt=_TOKEN_SALT).loads(token, max_age=max_age_s)
    except BadSignature:
        return None
    uid = data.get("uid") if isinstance(data, dict) else None
    version = data.get("cv") if isinstance(data, dict) else None
    if not isinstance(uid, int) or not isinstance(version, int):
        return None
    return uid, version
