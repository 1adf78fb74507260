"""What the command line needs around the import: the clinic it works in, the account it acts
as, and a referral made from another clinic's exported record (the round trip of issue #14)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketaclinic.accounts import service as accounts
from ketaclinic.accounts.core import Actor
from ketaclinic.accounts.models import Clinic
from ketaclinic.errors import InvalidInput
from ketaclinic.interop.fhir_base import IDENTIFIER_TYPE, LOINC, Resource
from ketaclinic.interop.fhir_referral_items import BODY_WEIGHT_LOINC

#: Not an argon2 hash, so verify_password answers False for every password.


def resolve_clinic(session: Session, code: str | None) -> Clinic:
    """The clinic a command works in: the one with ``code``, or the only clinic there is."""
    if code is not None:
        found = session.scalar(select(Clinic).where(Clinic.code == code))
        if found is None:
            raise InvalidInput(f"no clinic with code {code!r}", loc=("--clinic",))
        return found
    clinics = session.scalars(select(Clinic).limit(2)).all()
    if len(clinics) != 1:
        how = "no" if not clinics else "more than one"
        raise InvalidInput(f"give --clinic CODE (found {how} clinic)", loc=("--clinic",))
    return clinics[0]


def system_actor(session: Session, clinic_id: int) -> Actor:
    """The clinic's FHIR exchange account, as whom the command line imports and exports."""
    return accounts.system_actor(
        session,
        clinic_id=clinic_id,
        username=f"fhir-exchange-{clinic_id}",
        display_name="FHIR exchange (command line)",
        client_address="cli",
    )


#: What of an exported record a referral carries: the record itself, what is known about it, and
#: body weights (the rest of ``$everything`` is the clinic's own care, not the referral's).
_TRANSFERRED = ("Patient", "Condition", "AllergyIntolerance", "MedicationStatement")


def transaction_from(everything: Resource) -> Resource:
    """A referral (transaction Bundle) from an exported ``$everything`` bundle: the patient,
    Conditions, allergies, medications and body weights, with new ``urn:uuid:`` fullUrls, the
    references among them rewritten, references to anything else left out, and no ids or meta
    (they belong to the clinic that exported them). The MRN identifier is typed MR so that
    another clinic can read it."""
    kept = [
        dict(entry["resource"])
        for entry in everything.get("entry") or []
        if _transferred(entry.get("resource") or {})
    ]
    urls = {f"{r['resourceType']}/{r.get('id')}": f"urn:uuid:{uuid.uuid4()}" for r in kept}
    entries = []
    for resource in kept:
        local = f"{resource['resourceType']}/{resource.get('id')}"
        clean = _rewritten({k: v for k, v in resource.items() if k not in ("id", "meta")}, urls)
        if clean["resourceType"] == "Patient":
            clean["identifier"] = [_typed_mrn(i) for i in clean.get("identifier") or []]
        entries.append(
            {
                "fullUrl": urls[local],
                "resource": clean,
                "request": {"method": "POST", "url": clean["resourceType"]},
            }
        )
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _transferred(resource: Resource) -> bool:
    kind = resource.get("resourceType")
    if kind in _TRANSFERRED:
        return True
    codings = (resource.get("code") or {}).get("coding") or []
    return kind == "Observation" and any(
        c.get("system") == LOINC and c.get("code") == BODY_WEIGHT_LOINC for c in codings
    )


_DROP = object()


def _rewritten(value: Any, urls: dict[str, str]) -> Any:
    """``value`` with each reference to a kept resource pointing at its fullUrl, and each
    reference to anything else removed (from a list, or the element holding it)."""
    if isinstance(value, dict):
        target = value.get("reference")
        if isinstance(target, str):
            if target not in urls:
                return _DROP
            return {**value, "reference": urls[target]}
        result = {}
        for key, child in value.items():
            new = _rewritten(child, urls)
            if new is not _DROP and new != []:
                result[key] = new
        return result
    if isinstance(value, list):
        return [new for new in (_rewritten(item, urls) for item in value) if new is not _DROP]
    return value


def _typed_mrn(identifier: Resource) -> Resource:
    if not str(identifier.get("system", "")).endswith(":mrn") or identifier.get("type"):
        return identifier
    return {**identifier, "type": {"coding": [{"system": IDENTIFIER_TYPE, "code": "MR"}]}}
