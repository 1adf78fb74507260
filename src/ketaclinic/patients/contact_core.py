"""Checking and normalising a patient's phone number and e-mail address. Pure: no I/O.

A number is stored in E.164 (``+15555550123``) so that a reminder gateway gets one form whatever
the front desk typed; a number without a country code is read in the clinic's region
(``Settings.phone_region``). E-mail syntax follows RFC 5322 as ``email-validator`` reads it;
whether the mailbox exists is not checked here (that would be network I/O).
"""

from __future__ import annotations

from enum import StrEnum

import phonenumbers
from email_validator import EmailNotValidError, validate_email

PHONE_MAX_LENGTH = 40
EMAIL_MAX_LENGTH = 254  # RFC 5321 §4.5.3.1.3: a path is at most 256 octets with its brackets


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


class ContactProblem(ValueError):
    """A phone number or e-mail address that cannot be used, with the reason in words."""


def normalise_phone(raw: str, *, region: str) -> str:
    """The number in E.164, or ContactProblem saying why it is not a number we can text."""
    text = raw.strip()
    if len(text) > PHONE_MAX_LENGTH:
        raise ContactProblem(f"a phone number has at most {PHONE_MAX_LENGTH} characters")
    try:
        number = phonenumbers.parse(text, region.upper())
    except phonenumbers.NumberParseException:
        raise ContactProblem(
            f"{text!r} is not a phone number (write it with +country code, or as dialled in "
            f"{region.upper()})"
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise ContactProblem(f"{text!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(raw: str) -> str:
    """The address with its domain in normal form, or ContactProblem saying what is wrong."""
    text = raw.strip()
    if len(text) > EMAIL_MAX_LENGTH:
        raise ContactProblem(f"an e-mail address has at most {EMAIL_MAX_LENGTH} characters")
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError as error:
        raise ContactProblem(f"not a usable e-mail address: {error}") from None
    return str(result.normalized)


def consent_problem(channels: set[Channel], *, phone: str | None, email: str | None) -> str | None:
    """Consent to a channel needs an address on that channel to mean anything."""
    if Channel.EMAIL in channels and not email:
        return "consent to e-mail reminders needs an e-mail address"
    if Channel.SMS in channels and not phone:
        return "consent to text reminders needs a phone number"
    return None
