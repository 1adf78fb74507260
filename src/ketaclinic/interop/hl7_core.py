"""HL7 v2 messages from bedside monitors and hospitals: parse, refuse with a reason, acknowledge.
Pure.

ORU^R01 vitals follow IHE PCD-01 (CODES.md §5.1); ADT^A04/A08 carry patient demographics. Every
message either becomes a typed result or a typed refusal that says why and which ACK code the
sender gets: AR when the message itself cannot be processed (malformed, unsupported type), AE when
it is well formed but its content cannot be placed (no MRN, unmapped code, unit we do not store).
Nothing is guessed: no unit conversion, no rounding, no time zone assumed unless the caller names
one.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Literal

import hl7

from ketaclinic.interop.device_codes import (
    DEFAULT_TABLE,
    DIASTOLIC,
    ETCO2,
    FIELD_UNITS,
    HEART_RATE,
    MEAN_BP,
    RESP_RATE,
    SPO2,
    SYSTOLIC,
    TEMPERATURE,
    DeviceCodeTable,
)

AckCode = Literal["AA", "AE", "AR"]

# The only encoding characters accepted (HL7 v2 §2.5.4 recommended set); fields are copied into the
# ACK
# as received, which is only safe when both sides use the same separators.
ENCODING_CHARACTERS = "^~\\&"

# HL7 table 0357 (message error condition codes), used in ERR-3.
ERR_SEGMENT_SEQUENCE = "100"
ERR_REQUIRED_FIELD_MISSING = "101"
ERR_DATA_TYPE = "102"
ERR_TABLE_VALUE_NOT_FOUND = "103"
ERR_UNSUPPORTED_MESSAGE_TYPE = "200"
ERR_UNSUPPORTED_EVENT = "201"
ERR_UNKNOWN_KEY = "204"

ERROR_TEXT: Mapping[str, str] = {
    ERR_SEGMENT_SEQUENCE: "Segment sequence error",
    ERR_REQUIRED_FIELD_MISSING: "Required field missing",
    ERR_DATA_TYPE: "Data type error",
    ERR_TABLE_VALUE_NOT_FOUND: "Table value not found",
    ERR_UNSUPPORTED_MESSAGE_TYPE: "Unsupported message type",
    ERR_UNSUPPORTED_EVENT: "Unsupported event code",
    ERR_UNKNOWN_KEY: "Unknown key identifier",
}

# OBX-11 result statuses (HL7 table 0085) that carry a usable value: final, results entered,
# corrected.
_USABLE_STATUSES = frozenset({"F", "R", "C"})
# "Cannot obtain": IHE PCD-01 header rows (MDS/VMD/CHANNEL) and metrics the device could not
# measure.
_NO_VALUE_STATUS = "X"


@dataclass(frozen=True)
class MessageHeader:
    """The MSH fields needed to route a message and to answer it (raw, still escaped)."""

    sending_application: str
    sending_facility: str
    receiving_application: str
    receiving_facility: str
    message_code: str
    trigger_event: str
    control_id: str
    processing_id: str
    version: str


@dataclass(frozen=True)
class Reading:
    """One vital sign as it will be charted: flowsheet field, exact value, UCUM unit, when, from
    what.
    """

    field: str
    value: Decimal
    unit: str
    observed_at: datetime
    code: str
    coding_system: str


@dataclass(frozen=True)
class VitalsMessage:
    """An ORU^R01 whose every observation maps to the flowsheet (or is deliberately not charted)."""

    header: MessageHeader
    mrn: str
    mrn_authority: str | None
    device_id: str | None
    bed: str | None
    observed_at: datetime
    readings: tuple[Reading, ...]

    @property
    def control_id(self) -> str:
        return self.header.control_id


@dataclass(frozen=True)
class PostalAddress:
    """PID-11's first address as sent (unescaped, not yet validated): street, other designation,
    city, state, ZIP."""

    line1: str
    line2: str
    city: str
    state: str
    zip: str


@dataclass(frozen=True)
class Demographics:
    """The patient described by an ADT^A04 (register) or ADT^A08 (update)."""

    header: MessageHeader
    event: str
    mrn: str
    mrn_authority: str | None
    family_name: str
    given_name: str
    birth_date: date | None
    sex: str | None
    address: PostalAddress | None = None

    @property
    def control_id(self) -> str:
        return self.header.control_id


@dataclass(frozen=True)
class Refusal:
    """Why a message cannot be used, and the ACK the sender gets for it.

    ``header`` is None only when not even the MSH could be read; the ACK then cannot echo MSH-10.
    """

    ack_code: Literal["AE", "AR"]
    reason: str
    error_code: str
    header: MessageHeader | None

    @property
    def control_id(self) -> str | None:
        return None if self.header is None else self.header.control_id


Parsed = VitalsMessage | Demographics | Refusal


class _Refused(Exception):
    """Internal: carries a refusal out of nested parsing helpers."""

    def __init__(self, ack_code: Literal["AE", "AR"], reason: str, error_code: str) -> None:
        super().__init__(reason)
        self.ack_code: Literal["AE", "AR"] = ack_code
        self.reason = reason
        self.error_code = error_code


# ----------------------------------------------------------------------------------------- reading


def decode_payload(payload: bytes) -> str | Refusal:
    """The message text of an MLLP payload; only UTF-8 (which includes ASCII) is accepted."""
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return Refusal("AR", "message is not valid UTF-8", ERR_DATA_TYPE, None)


def _normalize(text: str) -> str:
    """Segments end with CR (HL7 v2 §2.5.1); senders that use LF or CRLF get the same parse."""
    return text.replace("\r\n", "\r").replace("\n", "\r").strip("\r")


def _components(raw: str) -> list[str]:
    return raw.split("^")


def _component(raw: str, index: int) -> str:
    """1-based component of a raw field value, '' when absent."""
    parts = _components(raw)
    return parts[index - 1] if 0 < index <= len(parts) else ""


#: A segment as its raw fields: [0] is the segment name, [n] is field n (HL7 numbering; for MSH,
#: [1] is the field separator itself, so MSH-n is [n] too).
Segment = list[str]

#: python-hl7's unescaping (HL7 v2 §2.7), bound once to the only separators accepted.
_UNESCAPER = hl7.parse("MSH|" + ENCODING_CHARACTERS + "|")


class SplitMessage:
    """An HL7 v2 message split into segments and raw fields, nothing more.

    ``hl7.parse`` builds an object for every repetition, component and subcomponent, about 5 ms
    a vitals message on the 2-core test machine (bench/mllp_bench.py: parse-only ~150-340
    messages/s), which capped the listener far below the 2,000 messages/s of issue #14. This
    module only reads raw fields and splits the few components it needs, so a split on the
    segment and field separators is all it needs; ``tests/interop/test_hl7_core.py`` checks that
    every field agrees with ``hl7.parse``. Escapes are still undone by python-hl7.
    """

    def __init__(self, text: str) -> None:
        self._segments: list[Segment] = []
        # Whitespace around the whole message is dropped, as hl7.parse drops it.
        for raw in text.strip().split("\r"):
            fields = raw.split("|")
            if fields[0] == "MSH":
                fields.insert(1, "|")
            self._segments.append(fields)

    def __iter__(self) -> Iterator[Segment]:
        return iter(self._segments)

    def segments(self, name: str) -> list[Segment]:
        return [segment for segment in self._segments if segment[0] == name]

    def segment(self, name: str) -> Segment:
        """The first segment called ``name``; KeyError when there is none."""
        for segment in self._segments:
            if segment[0] == name:
                return segment
        raise KeyError(f"no {name} segment")

    def unescape(self, raw: str) -> str:
        return str(_UNESCAPER.unescape(raw)) if "\\" in raw else raw


def split_message(text: str) -> SplitMessage:
    """The message's segments and raw fields (``text`` with CR between segments)."""
    return SplitMessage(text)


def _field(segment: Segment, index: int) -> str:
    """The raw text of field ``index`` (HL7 numbering), '' when absent."""
    return segment[index] if index < len(segment) else ""


def _unescape(message: SplitMessage, raw: str) -> str:
    return message.unescape(raw)


def _read_header(message: SplitMessage) -> MessageHeader:
    msh = message.segment("MSH")
    if _field(msh, 2) != ENCODING_CHARACTERS or str(msh[1]) != "|":
        raise _Refused("AR", "only the standard separators |^~\\& are supported", ERR_DATA_TYPE)
    message_type = _field(msh, 9)
    header = MessageHeader(
        sending_application=_field(msh, 3),
        sending_facility=_field(msh, 4),
        receiving_application=_field(msh, 5),
        receiving_facility=_field(msh, 6),
        message_code=_component(message_type, 1),
        trigger_event=_component(message_type, 2),
        control_id=_field(msh, 10),
        processing_id=_field(msh, 11),
        version=_component(_field(msh, 12), 1),
    )
    return header


def _parse_envelope(text: str) -> tuple[SplitMessage, MessageHeader] | Refusal:
    """The parsed message and its header, or AR when it is not an HL7 v2 message we can answer."""
    text = _normalize(text)
    if not text.startswith("MSH|"):
        reason = "message does not start with an MSH segment"
        return Refusal("AR", reason, ERR_SEGMENT_SEQUENCE, None)
    try:
        message = split_message(text)
        header = _read_header(message)
    except _Refused as refused:
        return Refusal(refused.ack_code, refused.reason, refused.error_code, None)
    except (IndexError, KeyError, ValueError):
        return Refusal("AR", "message header cannot be read", ERR_SEGMENT_SEQUENCE, None)
    if not header.control_id:
        return Refusal("AR", "MSH-10 message control id is empty", ERR_REQUIRED_FIELD_MISSING, None)
    if not header.message_code or not header.trigger_event:
        return Refusal("AR", "MSH-9 message type is empty", ERR_REQUIRED_FIELD_MISSING, header)
    return message, header


_TS = re.compile(
    r"^(?P<year>\d{4})(?P<month>\d{2})(?P<day>\d{2})"
    r"(?:(?P<hour>\d{2})(?P<minute>\d{2})(?:(?P<second>\d{2})(?:\.(?P<fraction>\d{1,4}))?)?)?"
    r"(?P<offset>[+-]\d{4})?$"
)


def _parse_timestamp(raw: str, *, assume_tz: tzinfo | None) -> datetime:
    """An HL7 DTM to minute precision or finer (YYYYMMDDHHMM[SS[.S]][+/-ZZZZ]).

    Without an offset the time is read in ``assume_tz``; with no ``assume_tz`` it is refused rather
    than guessed, since a wrong zone would put vitals hours away from the infusion they belong to.
    """
    match = _TS.match(raw.strip())
    if match is None or match["hour"] is None:
        raise _Refused("AE", f"time {raw!r} is not an HL7 time to the minute", ERR_DATA_TYPE)
    fraction = match["fraction"] or ""
    microsecond = int(fraction.ljust(6, "0")) if fraction else 0
    if match["offset"] is not None:
        sign = 1 if match["offset"][0] == "+" else -1
        hours, minutes = int(match["offset"][1:3]), int(match["offset"][3:5])
        zone: tzinfo = timezone(sign * timedelta(hours=hours, minutes=minutes))
    elif assume_tz is not None:
        zone = assume_tz
    else:
        raise _Refused("AE", f"time {raw!r} has no UTC offset", ERR_DATA_TYPE)
    try:
        return datetime(
            int(match["year"]),
            int(match["month"]),
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"] or 0),
            microsecond,
            tzinfo=zone,
        )
    except ValueError as error:
        raise _Refused("AE", f"time {raw!r} is not a real time", ERR_DATA_TYPE) from error


def _read_mrn(message: SplitMessage) -> tuple[str, str | None]:
    """PID-3's medical record number: the repetition typed MR, or the only one there is."""
    segments = message.segments("PID") if "PID" in _segment_names(message) else []
    if len(segments) != 1:
        raise _Refused("AE", "message must carry exactly one PID segment", ERR_SEGMENT_SEQUENCE)
    repetitions = [rep for rep in _field(segments[0], 3).split("~") if _component(rep, 1)]
    typed = [rep for rep in repetitions if _component(rep, 5) == "MR"]
    candidates = typed or repetitions
    if not candidates:
        raise _Refused("AE", "PID-3 carries no patient identifier", ERR_REQUIRED_FIELD_MISSING)
    if len(candidates) > 1:
        reason = "PID-3 carries several identifiers and none is typed MR"
        raise _Refused("AE", reason, ERR_UNKNOWN_KEY)
    chosen = candidates[0]
    authority = _component(chosen, 4).split("&")[0] or None
    return _unescape(message, _component(chosen, 1)), authority


def _segment_names(message: SplitMessage) -> list[str]:
    return [str(segment[0]) for segment in message]


# ----------------------------------------------------------------------------------------- ORU^R01


def parse_message(
    text: str, *, table: DeviceCodeTable = DEFAULT_TABLE, assume_tz: tzinfo | None = None
) -> Parsed:
    """Dispatch on MSH-9: ORU^R01 vitals, ADT^A04/A08 demographics; anything else gets AR."""
    envelope = _parse_envelope(text)
    if isinstance(envelope, Refusal):
        return envelope
    message, header = envelope
    try:
        if header.message_code == "ORU" and header.trigger_event == "R01":
            return _read_vitals(message, header, table, assume_tz)
        if header.message_code == "ADT" and header.trigger_event in ("A04", "A08"):
            return _read_demographics(message, header)
    except _Refused as refused:
        return Refusal(refused.ack_code, refused.reason, refused.error_code, header)
    code = (
        ERR_UNSUPPORTED_EVENT
        if header.message_code in ("ORU", "ADT")
        else ERR_UNSUPPORTED_MESSAGE_TYPE
    )
    kind = f"{header.message_code}^{header.trigger_event}"
    return Refusal("AR", f"message type {kind} is not supported", code, header)


def _read_vitals(
    message: SplitMessage, header: MessageHeader, table: DeviceCodeTable, assume_tz: tzinfo | None
) -> VitalsMessage:
    mrn, authority = _read_mrn(message)
    names = _segment_names(message)
    if "OBR" not in names or "OBX" not in names:
        raise _Refused("AE", "ORU^R01 without OBR and OBX segments", ERR_SEGMENT_SEQUENCE)
    readings: list[Reading] = []
    devices: set[str] = set()
    request_times: list[datetime] = []
    current_time: datetime | None = None
    seen_obr = False
    for segment in message:
        name = str(segment[0])
        if name == "OBR":
            # Each OBX falls back on the time of the OBR it follows (OBR-7).
            seen_obr = True
            raw_time = _field(segment, 7)
            current_time = _parse_timestamp(raw_time, assume_tz=assume_tz) if raw_time else None
            if current_time is not None:
                request_times.append(current_time)
        elif name == "OBX":
            if not seen_obr:
                raise _Refused("AE", "an OBX comes before any OBR", ERR_SEGMENT_SEQUENCE)
            reading = _read_observation(segment, table, current_time, assume_tz)
            if reading is not None:
                readings.append(reading)
                if device := _component(_field(segment, 18), 1):
                    devices.add(device)
    if not readings:
        raise _Refused("AE", "no OBX carries a charted vital sign", ERR_REQUIRED_FIELD_MISSING)
    _refuse_conflicts(readings)
    if len(devices) > 1:
        raise _Refused("AE", "readings come from more than one device (OBX-18)", ERR_UNKNOWN_KEY)
    bed = (_field(message.segment("PV1"), 3) or None) if "PV1" in names else None
    return VitalsMessage(
        header=header,
        mrn=mrn,
        mrn_authority=authority,
        device_id=next(iter(devices), None),
        bed=bed,
        observed_at=request_times[0] if request_times else max(r.observed_at for r in readings),
        readings=tuple(readings),
    )


def _read_observation(
    obx: Segment,
    table: DeviceCodeTable,
    request_time: datetime | None,
    assume_tz: tzinfo | None,
) -> Reading | None:
    """One OBX as a reading; None for rows with nothing to chart (structural or deliberately
    unmapped).
    """
    identifier = _field(obx, 3)
    code, name, system = (_component(identifier, i) for i in (1, 2, 3))
    raw_value, status = _field(obx, 5), _field(obx, 11)
    if not raw_value:
        if status == _NO_VALUE_STATUS or not _field(obx, 2):
            return None  # PCD-01 MDS/VMD/CHANNEL header rows and "cannot obtain" carry no value.
        reason = f"OBX {code or '?'} has a value type but no value"
        raise _Refused("AE", reason, ERR_REQUIRED_FIELD_MISSING)
    mapping = table.lookup(system, code, name)
    if mapping is None:
        shown = "^".join(part for part in (code, name, system) if part) or "(empty)"
        raise _Refused("AE", f"observation code {shown} is not mapped", ERR_TABLE_VALUE_NOT_FOUND)
    if mapping.field is None:
        return None
    if status not in _USABLE_STATUSES:
        raise _Refused(
            "AE", f"OBX {code} has result status {status or '(empty)'}", ERR_TABLE_VALUE_NOT_FOUND
        )
    if _field(obx, 2) != "NM":
        raise _Refused("AE", f"OBX {code} is not numeric (OBX-2 {_field(obx, 2)})", ERR_DATA_TYPE)
    value = _decimal(raw_value, code)
    unit = FIELD_UNITS[mapping.field]
    unit_raw = _field(obx, 6)
    if not unit.accepts(_components(unit_raw)):
        raise _Refused(
            "AE",
            f"OBX {code} unit {unit_raw or '(empty)'} is not {unit.ucum}; units are not converted",
            ERR_TABLE_VALUE_NOT_FOUND,
        )
    own_time = _field(obx, 14)
    if own_time:
        observed_at = _parse_timestamp(own_time, assume_tz=assume_tz)
    elif request_time is not None:
        observed_at = request_time
    else:
        raise _Refused("AE", f"OBX {code} has no observation time", ERR_REQUIRED_FIELD_MISSING)
    return Reading(mapping.field, value, unit.ucum, observed_at, mapping.code, mapping.system)


_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


def _decimal(raw: str, code: str) -> Decimal:
    """HL7 NM as an exact decimal (no exponent, no thousands separator)."""
    text = raw.strip()
    if not _NUMBER.match(text):
        raise _Refused("AE", f"OBX {code} value {raw!r} is not a number", ERR_DATA_TYPE)
    try:
        return Decimal(text)
    except InvalidOperation as error:  # pragma: no cover - the pattern admits only valid decimals
        raise _Refused("AE", f"OBX {code} value {raw!r} is not a number", ERR_DATA_TYPE) from error


def _refuse_conflicts(readings: Sequence[Reading]) -> None:
    """Two different values for one field at one time cannot both be charted; the nurse decides."""
    seen: dict[tuple[str, datetime], Decimal] = {}
    for reading in readings:
        key = (reading.field, reading.observed_at)
        if key in seen and seen[key] != reading.value:
            raise _Refused(
                "AE",
                f"two different values for {reading.field} at one time",
                ERR_DATA_TYPE,
            )
        seen[key] = reading.value


# ------------------------------------------------------------------------------------- ADT^A04/A08

_SEXES = frozenset({"F", "M", "O", "U", "A", "N"})  # HL7 table 0001


def _read_demographics(message: SplitMessage, header: MessageHeader) -> Demographics:
    """PID of an ADT^A04/A08. Data the sender got wrong is refused AR: resending the same
    message cannot succeed (HL7 v2 §2.9.2)."""
    mrn, authority = _read_mrn(message)
    pid = message.segment("PID")
    name = _field(pid, 5).split("~")[0]
    family = _unescape(message, _component(name, 1).split("&")[0])
    given = _unescape(message, _component(name, 2))
    if not family or not given:
        raise _Refused("AR", "PID-5 needs a family and a given name", ERR_REQUIRED_FIELD_MISSING)
    birth_raw = _field(pid, 7)
    birth = _birth_date(birth_raw) if birth_raw else None
    sex = _field(pid, 8) or None
    if sex is not None and sex not in _SEXES:
        reason = f"PID-8 sex {sex!r} is not in HL7 table 0001"
        raise _Refused("AR", reason, ERR_TABLE_VALUE_NOT_FOUND)
    return Demographics(
        header=header,
        event=header.trigger_event,
        mrn=mrn,
        mrn_authority=authority,
        family_name=family,
        given_name=given,
        birth_date=birth,
        sex=sex,
        address=_address(message, _field(pid, 11).split("~")[0]),
    )


def _address(message: SplitMessage, raw: str) -> PostalAddress | None:
    """PID-11 (XAD): 1 street (its first subcomponent), 2 other designation, 3 city,
    4 state, 5 ZIP; None when empty."""
    parts = [
        _unescape(message, _component(raw, index).split("&")[0]).strip() for index in range(1, 6)
    ]
    if not any(parts):
        return None
    return PostalAddress(*parts)


def _birth_date(raw: str) -> date:
    """PID-7 to the day; a time part, if sent, is ignored because a birth date has none here."""
    match = re.match(r"^(\d{4})(\d{2})(\d{2})", raw)
    if match is None:
        raise _Refused("AR", f"PID-7 birth date {raw!r} is not YYYYMMDD", ERR_DATA_TYPE)
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError as error:
        reason = f"PID-7 birth date {raw!r} is not a real date"
        raise _Refused("AR", reason, ERR_DATA_TYPE) from error


# --------------------------------------------------------------------------------------------- ACK


def escape(text: str) -> str:
    """Text made safe for one HL7 field (HL7 v2 §2.7 escapes); line breaks become spaces."""
    escaped = (
        text.replace("\\", "\\E\\")
        .replace("|", "\\F\\")
        .replace("^", "\\S\\")
        .replace("&", "\\T\\")
        .replace("~", "\\R\\")
    )
    return re.sub(r"[\r\n\x0b\x1c]+", " ", escaped)


def format_timestamp(moment: datetime) -> str:
    """An aware time as HL7 DTM to the second with its UTC offset."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("ACK timestamps must be timezone-aware")
    offset = moment.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"{moment:%Y%m%d%H%M%S}{sign}{hours:02d}{rest:02d}"


def build_ack(
    received: MessageHeader | None,
    ack_code: AckCode,
    *,
    control_id: str,
    timestamp: datetime,
    text: str = "",
    error_code: str | None = None,
    application: str = "KETACLINIC",
    facility: str = "",
) -> str:
    """An original-mode ACK: sender and receiver swapped, MSA-2 echoing the received MSH-10.

    ``received`` None answers a message whose MSH could not be read: MSA-2 is then empty, which is
    what the sender gets instead of silence.
    """
    if ack_code != "AA" and not text:
        raise ValueError("an AE or AR acknowledgement must say why")
    header = received or MessageHeader("", "", application, facility, "", "", "", "P", "2.6")
    trigger = header.trigger_event
    msh = "|".join(
        [
            "MSH",
            ENCODING_CHARACTERS,
            header.receiving_application or application,
            header.receiving_facility or facility,
            header.sending_application,
            header.sending_facility,
            format_timestamp(timestamp),
            "",
            f"ACK^{trigger}^ACK" if trigger else "ACK",
            escape(control_id),
            header.processing_id or "P",
            header.version or "2.6",
        ]
    )
    segments = [msh, "|".join(["MSA", ack_code, header.control_id, escape(text)]).rstrip("|")]
    if ack_code != "AA":
        code = error_code or ERR_DATA_TYPE
        condition = f"{code}^{escape(ERROR_TEXT.get(code, 'Error'))}^HL70357"
        segments.append("|".join(["ERR", "", "", condition, "E", "", "", "", escape(text)]))
    return "\r".join(segments) + "\r"


def ack_for(parsed: Parsed, *, control_id: str, timestamp: datetime) -> str:
    """The ACK a parse result earns on its own: AA when usable, else the refusal's code and reason.

    The wiring answers a usable message with AE instead when it cannot place it (unknown patient, no
    active session); this function covers what the message itself decides.
    """
    if isinstance(parsed, Refusal):
        return build_ack(
            parsed.header,
            parsed.ack_code,
            control_id=control_id,
            timestamp=timestamp,
            text=parsed.reason,
            error_code=parsed.error_code,
        )
    return build_ack(parsed.header, "AA", control_id=control_id, timestamp=timestamp)


# --------------------------------------------------------------------------------- sample messages

# MDC codes and units for the sample device, CODES.md §5.2.
_SAMPLE_CODES: Mapping[str, tuple[str, str, str, str]] = {
    HEART_RATE: ("147842", "MDC_ECG_HEART_RATE", "264864", "MDC_DIM_BEAT_PER_MIN"),
    SPO2: ("150456", "MDC_PULS_OXIM_SAT_O2", "262688", "MDC_DIM_PERCENT"),
    RESP_RATE: ("151562", "MDC_RESP_RATE", "264928", "MDC_DIM_RESP_PER_MIN"),
    SYSTOLIC: ("150021", "MDC_PRESS_BLD_NONINV_SYS", "266016", "MDC_DIM_MMHG"),
    DIASTOLIC: ("150022", "MDC_PRESS_BLD_NONINV_DIA", "266016", "MDC_DIM_MMHG"),
    MEAN_BP: ("150023", "MDC_PRESS_BLD_NONINV_MEAN", "266016", "MDC_DIM_MMHG"),
    TEMPERATURE: ("150344", "MDC_TEMP", "268192", "MDC_DIM_DEGC"),
    ETCO2: ("151708", "MDC_AWAY_CO2_ET", "266016", "MDC_DIM_MMHG"),
}
SAMPLE_FIELDS: tuple[str, ...] = tuple(_SAMPLE_CODES)


def sample_vitals(rng: random.Random) -> dict[str, Decimal]:
    """Plausible vitals for an awake adult during a ketamine infusion (mildly raised BP and rate).

    Demo values only, inside the flowsheet's plausible ranges (ketaclinic.vitals.core.PLAUSIBLE).
    """
    systolic = rng.randint(112, 150)
    diastolic = rng.randint(68, min(95, systolic - 30))
    return {
        HEART_RATE: Decimal(rng.randint(62, 98)),
        SPO2: Decimal(rng.randint(94, 100)),
        RESP_RATE: Decimal(rng.randint(12, 20)),
        SYSTOLIC: Decimal(systolic),
        DIASTOLIC: Decimal(diastolic),
        MEAN_BP: Decimal(diastolic + (systolic - diastolic) // 3),
        TEMPERATURE: Decimal(rng.randint(361, 374)) / 10,
        ETCO2: Decimal(rng.randint(33, 43)),
    }


def sample_oru_r01(
    *,
    control_id: str,
    mrn: str,
    observed_at: datetime,
    values: Mapping[str, Decimal],
    device_eui64: str = "0012A1FFFE000001",
    bed: str = "INFUSION^CHAIR1^1",
    family_name: str = "SYNTHETIC",
    given_name: str = "PATIENT",
) -> str:
    """An IHE PCD-01 style ORU^R01 (CODES.md §5.1): MDS/VMD header rows, then MDC metrics."""
    time = format_timestamp(observed_at)
    equipment = f"{device_eui64}^^{device_eui64}^EUI-64"
    segments = [
        "|".join(
            [
                "MSH",
                ENCODING_CHARACTERS,
                f"KETACLINIC_SIM^{device_eui64}^EUI-64",
                "CLINIC",
                "KETACLINIC",
                "CLINIC",
                time,
                "",
                "ORU^R01^ORU_R01",
                escape(control_id),
                "P",
                "2.6",
                "",
                "",
                "NE",
                "AL",
                "",
                "UNICODE UTF-8",
                "",
                "",
                "PCD_DEC_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO",
            ]
        ),
        f"PID|||{escape(mrn)}^^^CLINIC^MR||{escape(family_name)}^{escape(given_name)}^^^^^L",
        f"PV1||O|{bed}",
        f"OBR|1|{escape(control_id)}^KETACLINIC_SIM|{escape(control_id)}^{device_eui64}^EUI-64"
        f"|182777000^monitoring of patient^SCT|||{time}",
        f"OBX|1||69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC|1.0.0.0|||||||X|||||||{equipment}",
        f"OBX|2||69798^MDC_DEV_METER_PHYSIO_MULTI_PARAM_VMD^MDC|1.1.0.0|||||||X|||||||{equipment}",
    ]
    for index, (field, value) in enumerate(values.items(), start=len(segments) - 3):
        code, refid, unit_code, unit_name = _SAMPLE_CODES[field]
        segments.append(
            f"OBX|{index}|NM|{code}^{refid}^MDC|1.1.1.{index}|{value}|{unit_code}^{unit_name}^MDC"
            f"|||||R|||{time}||||{equipment}"
        )
    return "\r".join(segments) + "\r"


def sample_adt(
    *,
    control_id: str,
    event: Literal["A04", "A08"],
    mrn: str,
    family_name: str,
    given_name: str,
    birth_date: date,
    sex: str,
    sent_at: datetime,
    address: PostalAddress | None = None,
) -> str:
    """An ADT^A04/A08 with one synthetic patient, for tests and demos."""
    pid_11 = ""
    if address is not None:
        pid_11 = "|||" + "^".join(
            escape(part)
            for part in (address.line1, address.line2, address.city, address.state, address.zip)
        )
    return (
        f"MSH|{ENCODING_CHARACTERS}|HOSPITAL_ADT|HOSPITAL|KETACLINIC|CLINIC|{format_timestamp(sent_at)}"
        f"||ADT^{event}^ADT_A01|{escape(control_id)}|P|2.5\r"
        f"EVN|{event}|{format_timestamp(sent_at)}\r"
        f"PID|||{escape(mrn)}^^^HOSPITAL^MR||{escape(family_name)}^{escape(given_name)}"
        f"||{birth_date:%Y%m%d}|{sex}{pid_11}\r"
        "PV1||O\r"
    )


__all__ = [
    "AckCode",
    "Demographics",
    "MessageHeader",
    "Parsed",
    "PostalAddress",
    "Reading",
    "Refusal",
    "VitalsMessage",
    "ack_for",
    "build_ack",
    "decode_payload",
    "escape",
    "format_timestamp",
    "parse_message",
    "sample_adt",
    "sample_oru_r01",
    "sample_vitals",
    "split_message",
]
