"""Settings: the one place that reads the environment (prefix ``KETACLINIC_``)."""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SECRET_KEY_MIN_LENGTH = 32
REMINDER_OFFSET_MIN_MIN = 5
REMINDER_OFFSET_MAX_MIN = 14 * 24 * 60


class Settings(BaseSettings):
    """Every setting the app reads. Each one is documented in the README."""

    model_config = SettingsConfigDict(env_prefix="KETACLINIC_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///./ketaclinic.db",
        description="SQLAlchemy URL; postgresql+psycopg://user@host/db for a clinic network.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Signs the session cookie (API tokens are random and stored hashed). "
        "Generated and kept beside the database on first start when unset.",
    )
    audit_key: SecretStr | None = Field(
        default=None,
        description="HMAC key of the audit trail (at least 32 characters), kept outside the "
        "database so that nobody with database access alone can rewrite the trail. Generated "
        "and kept beside the database on first start when unset; required in production.",
    )
    audit_seal_interval_s: float = Field(
        default=5,
        ge=0,
        le=3600,
        description="How often the app closes new audit events into a seal (0 = never; "
        "`ketaclinic audit seal` does it by hand).",
    )
    environment: Literal["development", "production"] = "development"
    clinic_timezone: str = Field(default="UTC", description="IANA zone used to show times.")
    secure_cookies: bool = Field(default=False, description="Send cookies over HTTPS only.")
    session_max_age_min: int = Field(default=12 * 60, ge=5)
    token_max_age_min: int = Field(default=8 * 60, ge=5)
    lockout_failures: int = Field(default=5, ge=1, description="Failed logins before lockout.")
    lockout_minutes: int = Field(default=15, ge=1)
    screening_systolic_limit_mmhg: int = Field(
        default=140, ge=90, le=220, description="Baseline systolic BP above this is flagged."
    )
    screening_diastolic_limit_mmhg: int = Field(
        default=90, ge=50, le=140, description="Baseline diastolic BP above this is flagged."
    )
    late_entry_max_min: int = Field(
        default=60,
        ge=0,
        le=720,
        description="How far back (minutes) a late bedside entry may be observed; clinic policy.",
    )
    late_cancellation_hours: int = Field(
        default=24,
        ge=0,
        le=24 * 14,
        description="A cancellation under this many hours before the session is late; policy.",
    )
    sqlite_busy_timeout_ms: int = Field(default=5000, ge=0)

    # --- Reminders (scheduling.reminders_*): contact settings, SMTP and the SMS webhook ---
    phone_region: str = Field(
        default="US",
        min_length=2,
        max_length=2,
        description="ISO 3166 country whose numbers may be typed without +country code.",
    )
    reminder_offsets_min: list[int] = Field(
        default=[48 * 60, 2 * 60],
        min_length=1,
        max_length=5,
        description="When reminders go out, in minutes before a session (clinic policy).",
    )
    reminders_in_serve: bool = Field(
        default=False, description="Run the reminder worker inside `ketaclinic serve`."
    )
    reminder_interval_s: float = Field(
        default=60, ge=1, le=3600, description="How often the reminder worker looks for work."
    )
    reminder_max_attempts: int = Field(
        default=5, ge=1, le=20, description="Tries before a reminder is shown to staff as failed."
    )
    smtp_host: str | None = Field(default=None, description="SMTP server; unset = no e-mail.")
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = Field(default="clinic@example.org", max_length=200)
    smtp_starttls: bool = Field(default=True, description="Upgrade the SMTP link with STARTTLS.")
    smtp_timeout_s: float = Field(default=30, gt=0, le=300)
    sms_webhook_url: str | None = Field(
        default=None, description="POST target for SMS reminders (README); unset = no SMS."
    )
    sms_webhook_token: SecretStr | None = Field(
        default=None, description="Sent as `Authorization: Bearer ...` to the SMS webhook."
    )
    # --- end of reminders ---
    # --- HL7 v2 listener (interop.service) ---
    hl7_clinic: str | None = Field(
        default=None,
        max_length=32,
        description="Code of the clinic whose patients the HL7 listener charts; unset = the only "
        "clinic.",
    )

    @field_validator("clinic_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone such as Europe/Berlin") from None
        return value

    @field_validator("reminder_offsets_min")
    @classmethod
    def _sensible_offsets(cls, value: list[int]) -> list[int]:
        """Between 5 minutes and 14 days before, each once (a typo must not spam a patient)."""
        for offset in value:
            if not REMINDER_OFFSET_MIN_MIN <= offset <= REMINDER_OFFSET_MAX_MIN:
                raise ValueError(
                    f"a reminder offset must be {REMINDER_OFFSET_MIN_MIN} to "
                    f"{REMINDER_OFFSET_MAX_MIN} minutes, not {offset}"
                )
        if len(set(value)) != len(value):
            raise ValueError("a reminder offset is listed twice")
        return sorted(value, reverse=True)

    @field_validator("phone_region")
    @classmethod
    def _upper_region(cls, value: str) -> str:
        return value.upper()

    @model_validator(mode="after")
    def _production_refuses_unsafe_defaults(self) -> Settings:
        """In production the session cookie never travels over plain HTTP, and the signing key
        is the operator's, not one generated into a file beside the database (DESIGN §5)."""
        if self.environment == "production" and not self.secure_cookies:
            raise ValueError(
                "secure_cookies must be true when environment is production (serve over HTTPS)"
            )
        if self.environment == "production" and self.secret_key is None:
            raise ValueError(
                "secret_key must be set when environment is production (KETACLINIC_SECRET_KEY)"
            )
        if self.environment == "production" and self.audit_key is None:
            raise ValueError(
                "audit_key must be set when environment is production (KETACLINIC_AUDIT_KEY), "
                "kept apart from the database and its backups"
            )
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.clinic_timezone)

    @property
    def data_dir(self) -> Path:
        """Where files that belong with the database live (the generated secret key)."""
        prefix = "sqlite:///"
        if self.database_url.startswith(prefix) and ":memory:" not in self.database_url:
            return Path(self.database_url.removeprefix(prefix)).resolve().parent
        return Path.cwd()

    @cached_property
    def signing_key(self) -> str:
        """The secret key: configured, or generated once and kept beside the database."""
        if self.secret_key is not None:
            key = self.secret_key.get_secret_value()
            if len(key) < SECRET_KEY_MIN_LENGTH:
                raise ValueError(
                    f"KETACLINIC_SECRET_KEY must be at least {SECRET_KEY_MIN_LENGTH} characters"
                )
            return key
        return _load_or_create_key(self.data_dir / "ketaclinic.secret")

    @cached_property
    def audit_signing_key(self) -> bytes:
        """The audit trail's HMAC key: configured, or generated once and kept beside the
        database (outside it, so a copy of the database alone cannot rewrite the trail)."""
        if self.audit_key is not None:
            key = self.audit_key.get_secret_value()
            if len(key) < SECRET_KEY_MIN_LENGTH:
                raise ValueError(
                    f"KETACLINIC_AUDIT_KEY must be at least {SECRET_KEY_MIN_LENGTH} characters"
                )
            return key.encode()
        return _load_or_create_key(self.data_dir / "ketaclinic.audit-key").encode()


def _load_or_create_key(path: Path) -> str:
    """Read the key file, or create it readable by its owner only."""
    if path.exists():
        key = path.read_text().strip()
        if len(key) >= SECRET_KEY_MIN_LENGTH:
            return key
        raise ValueError(f"the secret key in {path} is too short; delete it to make a new one")
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(key + "\n")
    return key
