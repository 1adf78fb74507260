from pathlib import Path

import pytest
from pydantic import ValidationError

from ketaclinic.config import Settings


def test_a_secret_key_is_generated_once_beside_the_database(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'clinic.db'}")
    key = settings.signing_key
    assert len(key) >= 32
    assert (tmp_path / "ketaclinic.secret").stat().st_mode & 0o077 == 0
    assert Settings(database_url=f"sqlite:///{tmp_path / 'clinic.db'}").signing_key == key


def test_a_configured_secret_key_wins(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'c.db'}", secret_key="s" * 40)
    assert settings.signing_key == "s" * 40
    assert not (tmp_path / "ketaclinic.secret").exists()


def test_a_short_secret_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 32"):
        _ = Settings(database_url=f"sqlite:///{tmp_path / 'c.db'}", secret_key="short").signing_key


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KETACLINIC_CLINIC_TIMEZONE", "Europe/Amsterdam")
    monkeypatch.setenv("KETACLINIC_LOCKOUT_FAILURES", "7")
    settings = Settings()
    assert settings.clinic_timezone == "Europe/Amsterdam"
    assert settings.lockout_failures == 7


def test_production_refuses_cookies_over_plain_http_and_generated_keys(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    keys = {"secret_key": "k" * 40, "audit_key": "a" * 40}
    with pytest.raises(ValidationError, match="secure_cookies must be true"):
        Settings(database_url=url, environment="production", **keys)
    with pytest.raises(ValidationError, match="secret_key must be set"):
        Settings(
            database_url=url, environment="production", secure_cookies=True, audit_key="a" * 40
        )
    with pytest.raises(ValidationError, match="audit_key must be set"):
        Settings(
            database_url=url, environment="production", secure_cookies=True, secret_key="k" * 40
        )
    safe = Settings(database_url=url, environment="production", secure_cookies=True, **keys)
    assert (safe.signing_key, safe.audit_signing_key) == ("k" * 40, b"a" * 40)
    assert list(tmp_path.iterdir()) == []  # nothing generated beside the database


def test_the_audit_key_is_generated_once_beside_the_database_and_kept_apart(
    tmp_path: Path,
) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'clinic.db'}")
    key = settings.audit_signing_key
    assert (tmp_path / "ketaclinic.audit-key").stat().st_mode & 0o777 == 0o600
    assert Settings(database_url=f"sqlite:///{tmp_path / 'clinic.db'}").audit_signing_key == key
    assert key != settings.signing_key.encode()


def test_a_short_audit_key_is_refused(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'c.db'}", audit_key="short")
    with pytest.raises(ValueError, match="KETACLINIC_AUDIT_KEY must be at least 32"):
        _ = settings.audit_signing_key
