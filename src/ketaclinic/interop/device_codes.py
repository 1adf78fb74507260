"""Which device observation codes land in which flowsheet vital, and in which unit. Pure.

Why a table: monitors that follow IHE PCD-01 send ISO/IEEE 11073-10101 (MDC) codes, others send
LOINC or vendor codes (CODES.md §5.2), so a clinic must be able to edit the mapping without
touching the parser. The default table below is a starting point; every code in it must be checked
against the NIST RTMMS "Rosetta" table and the clinic's own monitors before release (CODES.md §5.2,
§9 item 3).

Units are never converted: a value is accepted only in the unit the flowsheet stores (each spelling
below names the same unit), so nothing is rounded on the way in. A reading in any other unit is
refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Flowsheet fields. The first five are the fields the chairside flowsheet records today
# (ketaclinic.vitals.core.PLAUSIBLE, ketaclinic.monitoring.alerts.Watch); the last three are
# proposed names
# for values the flowsheet does not store yet (the wiring session decides whether to add them).
SYSTOLIC = "systolic_mmhg"
DIASTOLIC = "diastolic_mmhg"
HEART_RATE = "heart_rate_per_min"
SPO2 = "spo2_percent"
RESP_RATE = "resp_rate_per_min"
MEAN_BP = "mean_bp_mmhg"
TEMPERATURE = "temperature_celsius"
ETCO2 = "etco2_mmhg"

FLOWSHEET_FIELDS_TODAY: frozenset[str] = frozenset(
    {SYSTOLIC, DIASTOLIC, HEART_RATE, SPO2, RESP_RATE}
)

# Coding systems as they appear in OBX-3 component 3. "LN" is HL7 table 0396's name for LOINC.
LOINC = "LN"
MDC = "MDC"
_SYSTEM_ALIASES: Mapping[str, str] = {
    "LN": LOINC,
    "LOINC": LOINC,
    "MDC": MDC,
    "ISO11073": MDC,
    "ISO 11073-10101": MDC,
    "ISO11073-10101": MDC,
}


def normalize_system(system: str) -> str | None:
    """The canonical name of a coding system, or None if it is not one the mapping understands."""
    return _SYSTEM_ALIASES.get(system.strip().upper())


@dataclass(frozen=True)
class FieldUnit:
    """The unit a flowsheet field is stored in, and every spelling of exactly that unit."""

    ucum: str
    spellings: frozenset[str]

    def accepts(self, unit_tokens: Iterable[str]) -> bool:
        """Whether any of the OBX-6 components (code or text) names this unit."""
        return any(token.strip() in self.spellings for token in unit_tokens if token.strip())


# MDC unit codes and names: CODES.md §5.2 (OBX-6 column). UCUM codes: CODES.md §1.4.
_MMHG = FieldUnit("mm[Hg]", frozenset({"mm[Hg]", "mmHg", "266016", "MDC_DIM_MMHG"}))
_BEATS = FieldUnit(
    "/min", frozenset({"/min", "{beats}/min", "bpm", "264864", "MDC_DIM_BEAT_PER_MIN"})
)
_BREATHS = FieldUnit("/min", frozenset({"/min", "{breaths}/min", "264928", "MDC_DIM_RESP_PER_MIN"}))
_PERCENT = FieldUnit("%", frozenset({"%", "262688", "MDC_DIM_PERCENT"}))
_CELSIUS = FieldUnit("Cel", frozenset({"Cel", "°C", "degC", "268192", "MDC_DIM_DEGC"}))

FIELD_UNITS: Mapping[str, FieldUnit] = {
    SYSTOLIC: _MMHG,
    DIASTOLIC: _MMHG,
    MEAN_BP: _MMHG,
    ETCO2: _MMHG,
    HEART_RATE: _BEATS,
    RESP_RATE: _BREATHS,
    SPO2: _PERCENT,
    TEMPERATURE: _CELSIUS,
}


@dataclass(frozen=True)
class CodeMapping:
    """One observation code and the flowsheet field it fills.

    ``field`` None means the code is known and deliberately not charted (for example a second pulse
    rate when the ECG heart rate is charted), so a message carrying it is still accepted.
    """

    system: str
    code: str
    name: str
    field: str | None
    source: str


def _mdc(code: str, refid: str, field: str | None, source: str) -> CodeMapping:
    return CodeMapping(MDC, code, refid, field, source)


def _ln(code: str, name: str, field: str | None) -> CodeMapping:
    return CodeMapping(LOINC, code, name, field, "CODES.md §1.4 [V]")


DEFAULT_MAPPINGS: tuple[CodeMapping, ...] = (
    # MDC, CODES.md §5.2.
    _mdc("147842", "MDC_ECG_HEART_RATE", HEART_RATE, "CODES.md §5.2 [S]"),
    # Second and third pulse sources: not charted by default so they never compete with the ECG
    # rate.
    # A clinic without ECG leads maps one of them to heart_rate_per_min instead.
    _mdc("149530", "MDC_PULS_OXIM_PULS_RATE", None, "CODES.md §5.2 [S]"),
    _mdc("149546", "MDC_PULS_RATE_NON_INV", None, "CODES.md §5.2 [S]"),
    _mdc("150456", "MDC_PULS_OXIM_SAT_O2", SPO2, "CODES.md §5.2 [V]"),
    _mdc("150021", "MDC_PRESS_BLD_NONINV_SYS", SYSTOLIC, "CODES.md §5.2 [S]"),
    _mdc("150022", "MDC_PRESS_BLD_NONINV_DIA", DIASTOLIC, "CODES.md §5.2 [S]"),
    _mdc("150023", "MDC_PRESS_BLD_NONINV_MEAN", MEAN_BP, "CODES.md §5.2 [S]"),
    _mdc("151562", "MDC_RESP_RATE", RESP_RATE, "CODES.md §5.2 [S]"),
    _mdc("150344", "MDC_TEMP", TEMPERATURE, "CODES.md §5.2 [S]"),
    # Unconfirmed: CODES.md §5.2 marks the EtCO2 code "151708?" [U]; verify in RTMMS (§9 item 3).
    _mdc("151708", "MDC_AWAY_CO2_ET", ETCO2, "CODES.md §5.2 [U] unverified"),
    # LOINC, CODES.md §1.4.
    _ln("8480-6", "Systolic blood pressure", SYSTOLIC),
    _ln("8462-4", "Diastolic blood pressure", DIASTOLIC),
    _ln("8867-4", "Heart rate", HEART_RATE),
    _ln("9279-1", "Respiratory rate", RESP_RATE),
    _ln("2708-6", "Oxygen saturation in Arterial blood", SPO2),
    _ln("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry", SPO2),
    _ln("8310-5", "Body temperature", TEMPERATURE),
    # Unconfirmed: CODES.md §9 item 2 asks to verify the MAP code 8478-0 before relying on it.
    CodeMapping(LOINC, "8478-0", "Mean blood pressure", MEAN_BP, "CODES.md §5.2 [U] unverified"),
)


class MappingError(ValueError):
    """A mapping table that cannot be used (unknown field, unknown system, a code listed twice)."""


@dataclass(frozen=True)
class DeviceCodeTable:
    """A lookup from (coding system, code or MDC reference id) to its mapping."""

    by_key: Mapping[tuple[str, str], CodeMapping]

    def lookup(self, system: str, code: str, name: str) -> CodeMapping | None:
        """The mapping for an OBX-3 coding; MDC codes match by number or by reference id."""
        canonical = normalize_system(system)
        if canonical is None:
            return None
        for key in (code.strip(), name.strip() if canonical == MDC else ""):
            if key and (found := self.by_key.get((canonical, key))) is not None:
                return found
        return None


def build_table(mappings: Iterable[CodeMapping]) -> DeviceCodeTable:
    """Check and index a clinic's mapping list; anything ambiguous is refused, not guessed."""
    by_key: dict[tuple[str, str], CodeMapping] = {}
    for mapping in mappings:
        canonical = normalize_system(mapping.system)
        if canonical is None:
            raise MappingError(f"unknown coding system {mapping.system!r} for code {mapping.code}")
        if mapping.field is not None and mapping.field not in FIELD_UNITS:
            raise MappingError(f"code {mapping.code} maps to unknown field {mapping.field!r}")
        keys = [mapping.code] + ([mapping.name] if canonical == MDC and mapping.name else [])
        for key in keys:
            if (canonical, key) in by_key:
                raise MappingError(f"{canonical} code {key} is listed more than once")
            by_key[(canonical, key)] = mapping
    return DeviceCodeTable(by_key)


DEFAULT_TABLE: DeviceCodeTable = build_table(DEFAULT_MAPPINGS)
