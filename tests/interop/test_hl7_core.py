"""HL7 v2 parsing and ACKs: every message is a typed result or a refusal with its reason and ACK code."""

import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import hl7
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.interop.device_codes import (
    DEFAULT_MAPPINGS,
    DEFAULT_TABLE,
    FIELD_UNITS,
    HEART_RATE,
    CodeMapping,
    MappingError,
    build_table,
)
from ketaclinic.interop.hl7_core import (
    SAMPLE_FIELDS,
    Demographics,
    Refusal,
    VitalsMessage,
    ack_for,
    build_ack,
    decode_payload,
    escape,
    format_timestamp,
    parse_message,
    sample_adt,
    sample_oru_r01,
    sample_vitals,
    split_message,
)

EST = timezone(-timedelta(hours=5))
ACK_TIME = datetime(2026, 12, 2, 1, 2, 3, tzinfo=UTC)
EUI = "0012A1FFFE000001"
EQUIPMENT = f"{EUI}^^{EUI}^EUI-64"

# The sample of CODES.md §5.3, with OBX-18 filled in on every row.
PCD01 = "\r".join(
    [
        "MSH|^~\\&|MONITOR_GW^0012A1FFFE000001^EUI-64|BAY3|KETAMINE_EHR|CLINIC|20250115101500-0500"
        "||ORU^R01^ORU_R01|MSG00001|P|2.6|||NE|AL||UNICODE UTF-8|||"
        "PCD_DEC_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO",
        "PID|||MRN123^^^CLINIC^MR||DOE^JANE^^^^^L||19800203|F",
        "PV1||O|INFUSION^BAY3^1",
        "OBR|1|KCLINIC-0001^KETAMINE_EHR|MON-20250115101500^MONITOR_GW^0012A1FFFE000001^EUI-64"
        "|182777000^monitoring of patient^SCT|||20250115101500-0500",
        "OBX|1|NM|147842^MDC_ECG_HEART_RATE^MDC|1.1.1.1|72|264864^MDC_DIM_BEAT_PER_MIN^MDC|50-120"
        f"||||R|||20250115101500-0500||||{EQUIPMENT}",
        "OBX|2|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.2.1.1|97|262688^MDC_DIM_PERCENT^MDC|90-100"
        f"||||R|||20250115101500-0500||||{EQUIPMENT}",
        "OBX|3|NM|151562^MDC_RESP_RATE^MDC|1.3.1.1|14|264928^MDC_DIM_RESP_PER_MIN^MDC|10-24"
        f"||||R|||20250115101500-0500||||{EQUIPMENT}",
        "OBX|4|NM|150021^MDC_PRESS_BLD_NONINV_SYS^MDC|1.4.1.1|128|266016^MDC_DIM_MMHG^MDC|90-160"
        f"||||R|||20250115101400-0500||||{EQUIPMENT}",
        "OBX|5|NM|150022^MDC_PRESS_BLD_NONINV_DIA^MDC|1.4.1.2|82|266016^MDC_DIM_MMHG^MDC|50-100"
        f"||||R|||20250115101400-0500||||{EQUIPMENT}",
    ]
)


def _with_obx(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new)


def _refusal(text: str, **kwargs: object) -> Refusal:
    result = parse_message(text, **kwargs)  # type: ignore[arg-type]
    assert isinstance(result, Refusal), result
    return result


def test_the_pcd01_sample_parses_to_its_five_vitals():
    result = parse_message(PCD01)
    assert isinstance(result, VitalsMessage)
    assert (result.control_id, result.mrn, result.mrn_authority) == ("MSG00001", "MRN123", "CLINIC")
    assert (result.device_id, result.bed) == (EUI, "INFUSION^BAY3^1")
    assert result.header.sending_application == "MONITOR_GW^0012A1FFFE000001^EUI-64"
    assert result.observed_at == datetime(2025, 1, 15, 10, 15, tzinfo=EST)
    bp_time = datetime(2025, 1, 15, 10, 14, tzinfo=EST)
    assert [(r.field, r.value, r.unit, r.observed_at) for r in result.readings] == [
        ("heart_rate_per_min", Decimal(72), "/min", result.observed_at),
        ("spo2_percent", Decimal(97), "%", result.observed_at),
        ("resp_rate_per_min", Decimal(14), "/min", result.observed_at),
        ("systolic_mmhg", Decimal(128), "mm[Hg]", bp_time),
        ("diastolic_mmhg", Decimal(82), "mm[Hg]", bp_time),
    ]


def test_loinc_coded_observations_and_lf_line_ends_are_read():
    text = PCD01.replace("147842^MDC_ECG_HEART_RATE^MDC", "8867-4^Heart rate^LN")
    text = text.replace("264864^MDC_DIM_BEAT_PER_MIN^MDC", "/min^per minute^UCUM")
    result = parse_message(text.replace("\r", "\n"))
    assert isinstance(result, VitalsMessage)
    assert (result.readings[0].field, result.readings[0].coding_system) == (HEART_RATE, "LN")


@given(
    seed=st.integers(0, 2**32),
    control_id=st.text(st.characters(codec="ascii", exclude_characters="\r\n\x0b\x1c"), min_size=1),
    mrn=st.text(
        st.characters(codec="ascii", categories=["L", "N", "P", "S"]), min_size=1, max_size=20
    ),
    moment=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1)),
    fields=st.lists(st.sampled_from(SAMPLE_FIELDS), min_size=1, unique=True),
)
def test_parse_of_a_sample_gives_back_what_was_sent(seed, control_id, mrn, moment, fields):
    moment = moment.replace(microsecond=0, tzinfo=EST)
    values = sample_vitals(random.Random(seed))
    sent = {field: values[field] for field in fields}
    text = sample_oru_r01(control_id=control_id, mrn=mrn, observed_at=moment, values=sent)
    result = parse_message(text)
    assert isinstance(result, VitalsMessage), result
    assert (result.mrn, result.device_id, result.observed_at) == (mrn, EUI, moment)
    assert result.control_id == escape(control_id)  # MSH-10 is kept as sent, for the ACK
    assert {r.field: r.value for r in result.readings} == sent
    assert all(r.unit == FIELD_UNITS[r.field].ucum for r in result.readings)


def test_times_without_offset_are_refused_unless_a_zone_is_named():
    text = PCD01.replace("-0500", "")
    refusal = _refusal(text)
    assert (refusal.ack_code, refusal.control_id) == ("AE", "MSG00001")
    assert "no UTC offset" in refusal.reason
    result = parse_message(text, assume_tz=EST)
    assert isinstance(result, VitalsMessage)
    assert result.observed_at == datetime(2025, 1, 15, 10, 15, tzinfo=EST)


@pytest.mark.parametrize(
    ("old", "new", "code", "words"),
    [
        ("147842^MDC_ECG_HEART_RATE^MDC", "999999^MDC_MADE_UP^MDC", "AE", "not mapped"),
        ("147842^MDC_ECG_HEART_RATE^MDC", "0002-4182^HR^MDIL", "AE", "not mapped"),
        ("266016^MDC_DIM_MMHG^MDC|90-160", "kPa^kPa^UCUM|90-160", "AE", "not mm[Hg]"),
        ("|72|264864^MDC_DIM_BEAT_PER_MIN^MDC", "|72|", "AE", "unit (empty)"),
        ("|72|", "|seventy|", "AE", "not a number"),
        ("|72|", "|7e1|", "AE", "not a number"),
        ("OBX|1|NM|", "OBX|1|ST|", "AE", "not numeric"),
        ("||||R|||20250115101500-0500||||", "||||D|||20250115101500-0500||||", "AE", "status D"),
        ("MRN123^^^CLINIC^MR", "", "AE", "no patient identifier"),
        ("MRN123^^^CLINIC^MR", "A1^^^X^PI~B2^^^Y^PI", "AE", "several identifiers"),
        ("20250115101400-0500", "20250231101400-0500", "AE", "not a real time"),
        ("20250115101400-0500", "20250115", "AE", "to the minute"),
        ("ORU^R01^ORU_R01", "ORM^O01^ORM_O01", "AR", "ORM^O01 is not supported"),
        ("ORU^R01^ORU_R01", "ORU^R30^ORU_R30", "AR", "ORU^R30 is not supported"),
    ],
)
def test_refusals_name_the_reason(old, new, code, words):
    refusal = _refusal(_with_obx(PCD01, old, new))
    assert refusal.ack_code == code
    assert words in refusal.reason
    assert refusal.control_id == "MSG00001"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("PID|||MRN123", "does not start with an MSH"),
        ("MSH|^~\\&|A|B|C|D|20250101||ORU^R01|", "control id is empty"),
        ("MSH|^!\\&|A|B|C|D|20250101||ORU^R01|X1|P|2.6", "standard separators"),
        ("", "does not start with an MSH"),
    ],
)
def test_unreadable_messages_get_ar_without_a_control_id(text, words):
    refusal = _refusal(text)
    assert (refusal.ack_code, refusal.header) == ("AR", None)
    assert words in refusal.reason


def test_non_utf8_payload_is_refused():
    refusal = decode_payload("MSH|^~\\&|é".encode("latin-1"))
    assert isinstance(refusal, Refusal)
    assert refusal.ack_code == "AR"
    assert decode_payload(b"MSH|") == "MSH|"


def test_structural_and_deliberately_uncharted_rows_are_accepted_without_a_reading():
    extra = (
        f"\rOBX|6||69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC|1.0.0.0|||||||X|||||||{EQUIPMENT}"
        "\rOBX|7|NM|149530^MDC_PULS_OXIM_PULS_RATE^MDC|1.2.1.2|75|264864^MDC_DIM_BEAT_PER_MIN^MDC"
        f"|||||R|||20250115101500-0500||||{EQUIPMENT}"
    )
    result = parse_message(PCD01 + extra)
    assert isinstance(result, VitalsMessage)
    assert len(result.readings) == 5


def test_two_values_for_one_field_at_one_time_are_refused_and_equal_ones_are_not():
    mapped = build_table(
        [replace(m, field=HEART_RATE) if m.code == "149530" else m for m in DEFAULT_MAPPINGS]
    )
    row = (
        "\rOBX|7|NM|149530^MDC_PULS_OXIM_PULS_RATE^MDC|1.2.1.2|{}|264864^MDC_DIM_BEAT_PER_MIN^MDC"
        f"|||||R|||20250115101500-0500||||{EQUIPMENT}"
    )
    assert "two different values" in _refusal(PCD01 + row.format(75), table=mapped).reason
    assert isinstance(parse_message(PCD01 + row.format(72), table=mapped), VitalsMessage)


def test_readings_from_two_devices_are_refused():
    text = PCD01.replace(f"||||{EQUIPMENT}", "||||OTHER^^OTHER^EUI-64", 1)
    assert "more than one device" in _refusal(text).reason


def test_no_charted_vital_is_refused():
    lines = [line for line in PCD01.split("\r") if not line.startswith("OBX")]
    assert "without OBR and OBX" in _refusal("\r".join(lines)).reason


@given(
    family=st.text(st.characters(codec="utf-8", exclude_characters="\r\n\x0b\x1c"), min_size=1),
    given_name=st.text(st.characters(codec="ascii", categories=["L"]), min_size=1),
    birth=st.dates(min_value=date(1900, 1, 1), max_value=date(2026, 12, 1)),
    sex=st.sampled_from(["F", "M", "O", "U"]),
    event=st.sampled_from(["A04", "A08"]),
)
def test_adt_round_trip(family, given_name, birth, sex, event):
    text = sample_adt(
        control_id="ADT1",
        event=event,
        mrn="H-77",
        family_name=family,
        given_name=given_name,
        birth_date=birth,
        sex=sex,
        sent_at=ACK_TIME,
    )
    result = parse_message(text)
    assert isinstance(result, Demographics), result
    assert (result.event, result.mrn, result.mrn_authority) == (event, "H-77", "HOSPITAL")
    assert (result.family_name, result.given_name, result.birth_date, result.sex) == (
        family,
        given_name,
        birth,
        sex,
    )


def test_adt_refusals():
    base = sample_adt(
        control_id="ADT1",
        event="A04",
        mrn="H-77",
        family_name="DOE",
        given_name="JANE",
        birth_date=date(1980, 2, 3),
        sex="F",
        sent_at=ACK_TIME,
    )
    assert "table 0001" in _refusal(base.replace("|19800203|F", "|19800203|Q")).reason
    assert "not a real date" in _refusal(base.replace("19800203", "19800231")).reason
    assert "family and a given" in _refusal(base.replace("DOE^JANE", "DOE")).reason
    adt_a01 = _refusal(base.replace("ADT^A04", "ADT^A01"))
    assert (adt_a01.ack_code, adt_a01.error_code) == ("AR", "201")


def _ack_segments(ack: str) -> dict[str, list[str]]:
    message = hl7.parse(ack)
    return {str(segment[0]): [str(field) for field in segment] for segment in message}


def test_aa_ack_swaps_sender_and_receiver_and_echoes_the_control_id():
    parsed = parse_message(PCD01)
    ack = ack_for(parsed, control_id="ACK1", timestamp=ACK_TIME)
    segments = _ack_segments(ack)
    msh = segments["MSH"]
    assert msh[3:7] == ["KETAMINE_EHR", "CLINIC", "MONITOR_GW^0012A1FFFE000001^EUI-64", "BAY3"]
    assert msh[7] == format_timestamp(ACK_TIME) == "20261202010203+0000"
    assert (msh[9], msh[10], msh[12]) == ("ACK^R01^ACK", "ACK1", "2.6")
    assert segments["MSA"][1:3] == ["AA", "MSG00001"]
    assert "ERR" not in segments


def test_ae_ack_carries_the_reason_escaped_in_msa_3_and_err():
    refusal = _refusal(PCD01.replace("147842^MDC_ECG_HEART_RATE^MDC", "999^X|Y^MDC"))
    ack = ack_for(refusal, control_id="ACK2", timestamp=ACK_TIME.astimezone(EST))
    segments = _ack_segments(ack)
    assert segments["MSH"][7] == "20261201200203-0500"
    assert segments["MSA"][1:3] == ["AE", "MSG00001"]
    message = hl7.parse(ack)
    assert message.unescape(segments["MSA"][3]) == refusal.reason
    assert segments["ERR"][3] == "103^Table value not found^HL70357"
    assert message.unescape(segments["ERR"][8]) == refusal.reason


def test_ar_ack_for_an_unreadable_message_has_an_empty_msa_2():
    ack = ack_for(_refusal("garbage"), control_id="ACK3", timestamp=ACK_TIME)
    segments = _ack_segments(ack)
    assert segments["MSA"][1:3] == ["AR", ""]
    assert segments["MSH"][3] == "KETACLINIC"


def test_ack_arguments_are_checked():
    header = parse_message(PCD01)
    assert isinstance(header, VitalsMessage)
    with pytest.raises(ValueError, match="must say why"):
        build_ack(header.header, "AE", control_id="A", timestamp=ACK_TIME)
    with pytest.raises(ValueError, match="timezone-aware"):
        build_ack(header.header, "AA", control_id="A", timestamp=datetime(2026, 1, 1))


def test_default_table_maps_only_to_known_fields_with_units():
    fields = {m.field for m in DEFAULT_MAPPINGS if m.field is not None}
    assert fields == set(FIELD_UNITS)
    for mapping in DEFAULT_MAPPINGS:
        assert DEFAULT_TABLE.lookup(mapping.system, mapping.code, "") == mapping
    assert DEFAULT_TABLE.lookup("MDC", "", "MDC_RESP_RATE") is not None
    assert DEFAULT_TABLE.lookup("VENDOR", "147842", "") is None


@pytest.mark.parametrize(
    ("mappings", "words"),
    [
        ([CodeMapping("XX", "1", "", HEART_RATE, "")], "unknown coding system"),
        ([CodeMapping("LN", "1", "", "pulse", "")], "unknown field"),
        (
            [CodeMapping("LN", "1", "", None, ""), CodeMapping("LOINC", "1", "", None, "")],
            "more than once",
        ),
    ],
)
def test_a_bad_mapping_table_is_refused(mappings, words):
    with pytest.raises(MappingError, match=words):
        build_table(mappings)


def test_each_obx_without_its_own_time_takes_the_time_of_its_obr():
    lines = PCD01.split("\r")
    second_obr = "OBR|2|||182777000^monitoring of patient^SCT|||20250115102000-0500"
    lines.insert(7, second_obr)  # before OBX 4 and 5 (the blood pressure)
    text = "\r".join(lines).replace("||||R|||20250115101400-0500||||", "||||R|||||||")
    result = parse_message(text)
    assert isinstance(result, VitalsMessage)
    times = {r.field: r.observed_at for r in result.readings}
    assert times["systolic_mmhg"] == datetime(2025, 1, 15, 10, 20, tzinfo=EST)
    assert times["heart_rate_per_min"] == result.observed_at


def test_an_obx_before_any_obr_is_refused():
    lines = PCD01.split("\r")
    obr = lines.pop(3)
    lines.append(obr)
    assert "before any OBR" in _refusal("\r".join(lines)).reason


segment_text = st.text(st.characters(exclude_characters="\x0b\x1c"), max_size=80)


@given(
    junk=st.lists(
        st.one_of(
            segment_text,
            st.builds("OBX|{}".format, segment_text),
            st.builds("PID|{}".format, segment_text),
            st.builds("OBR|{}".format, segment_text),
        ),
        max_size=6,
    ),
    msh=st.sampled_from(["", "MSH|^~\\&|", "MSH|^~\\&|A|B|C|D|20250101||ORU^R01|X1|P|2.6"]),
)
def test_any_text_gets_a_result_or_a_refusal_and_an_ack(junk, msh):
    text = "\r".join([msh, *junk]) if msh else "\r".join(junk)
    parsed = parse_message(text)
    assert isinstance(parsed, VitalsMessage | Demographics | Refusal)
    ack = ack_for(parsed, control_id="ACK", timestamp=ACK_TIME)
    assert hl7.parse(ack).segment("MSA")[1][0] in ("AA", "AE", "AR")


# --------------------------------------------------------------- the light reader and python-hl7

_FIELD_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\r\n\x0b\x1c|"), max_size=30)


def _hl7_fields(text: str) -> list[list[str]]:
    """Every segment's fields as python-hl7 reads them (str of each field is its raw text)."""
    return [[str(field) for field in segment] for segment in hl7.parse(text)]


@given(
    segments=st.lists(
        st.tuples(
            st.sampled_from(["PID", "PV1", "OBR", "OBX", "EVN", "ZZZ"]),
            st.lists(_FIELD_TEXT, max_size=20),
        ),
        max_size=8,
    ),
    header=st.lists(_FIELD_TEXT, min_size=8, max_size=20),
)
def test_the_light_reader_agrees_with_python_hl7_on_every_field(segments, header):
    text = "\r".join(
        ["MSH|^~\\&|" + "|".join(header), *("|".join([name, *fields]) for name, fields in segments)]
    )
    ours = [list(segment) for segment in split_message(text)]
    assert ours == _hl7_fields(text)


def test_the_light_reader_agrees_with_python_hl7_on_the_samples():
    samples = [PCD01, _adt_with_escapes()]
    for text in samples:
        assert [list(s) for s in split_message(text)] == _hl7_fields(text)
        message = split_message(text)
        for segment in message:
            for field in segment[1:]:
                assert message.unescape(field) == str(hl7.parse(text).unescape(field))


def _adt_with_escapes() -> str:
    return sample_adt(
        control_id="E\\1",
        event="A04",
        mrn="H-77",
        family_name="O'Brien|Smith^Jr&Co~",
        given_name="Ann\\e",
        birth_date=date(1980, 2, 3),
        sex="F",
        sent_at=ACK_TIME,
    )
