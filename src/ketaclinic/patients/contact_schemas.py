"""Request and response shapes for a patient's contact details and reminder consent."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ketaclinic.patients.contact_core import EMAIL_MAX_LENGTH, PHONE_MAX_LENGTH

PhoneText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=PHONE_MAX_LENGTH)]
EmailText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=EMAIL_MAX_LENGTH)]


class ContactIn(BaseModel):
    """The whole contact record as it should be; an empty or missing address clears it."""

    model_config = ConfigDict(extra="forbid")

    phone: PhoneText | None = Field(
        default=None, description="Any usual form; +country code or the clinic's region."
    )
    email: EmailText | None = None
    consent_email: bool = Field(
        default=False, description="The patient agreed to e-mail reminders."
    )
    consent_sms: bool = Field(default=False, description="The patient agreed to text reminders.")
    version: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="The version you read (optimistic locking)."
    )


class ContactOut(BaseModel):
    patient_id: int
    phone: str | None
    email: str | None
    consent_email: bool
    consent_sms: bool
    consent_changed_at: datetime | None
    consent_recorded_by_user_id: int | None
    version: int | None
