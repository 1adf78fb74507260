"""Seeded example protocols, each citing where its numbers come from. Pure data.

Tags follow /work/shared/clinical/REFERENCE.md: [V] read in the primary source, [S] from a digest,
[D] derived here (arithmetic shown), UNCONFIRMED and clinic policy as marked there.

Every soft and hard limit below is a clinic-policy default for the clinic to review before use; none
is a published limit. For scale, the ASRA/AAPM/ASA 2018 digests quote infusion rates of
0.5–2 mg/kg/h and boluses up to 0.35 mg/kg ([S] R5; REFERENCE §1b warns the bolus figure may belong
to the acute-pain guideline). The soft limits sit at the top of the published regimen, the hard
limits below the digest's 2 mg/kg/h. Concentrations and bag sizes are clinic practice.
"""

from __future__ import annotations

from decimal import Decimal
from types import MappingProxyType

from ketaclinic.dosing.protocol import Bolus, DoseMode, Limit, Protocol

_NO_PAIN_BOOSTER = (
    "No booster interval is established for pain (REFERENCE §3b: UNCONFIRMED); reassess pain and "
    "function against the baseline before any further infusion or series."
)

CRPS_SCHWARTZMAN_2009 = Protocol(
    key="crps-schwartzman-2009",
    name="CRPS: 0.35 mg/kg/h for 4 h (at most 25 mg/h), daily × 10",
    version=1,
    indications=("crps",),
    dose_mode=DoseMode.MG_PER_KG_PER_H,
    default_dose=Decimal("0.35"),
    dose_limit=Limit(soft_max=Decimal("0.35"), hard_max=Decimal("0.5")),
    # 25 mg/h × 4 h = 100 mg [D], the trial's per-session maximum.
    rate_limit_mg_per_h=Limit(soft_max=Decimal(25), hard_max=Decimal(25)),
    total_limit_mg=Limit(soft_max=Decimal(100), hard_max=Decimal(100)),
    default_duration_min=240,
    max_duration_min=240,
    concentration_mg_per_ml=Decimal(1),
    bag_volume_ml=Decimal(250),
    series_sessions=10,
    series_spacing_days=1,
    maintenance_rule=(
        f"{_NO_PAIN_BOOSTER} ASRA 2018: moderate evidence (Grade B) of relief lasting up to "
        "12 weeks in CRPS ([S] R3–R5)."
    ),
    cap_mg_per_h=Decimal(25),
    source=(
        "Schwartzman RJ et al. Outpatient intravenous ketamine for the treatment of CRPS. Pain "
        "2009;147:107–115, doi:10.1016/j.pain.2009.08.015; NCT00579085 ([V] REFERENCE §3a, "
        "R25/R26): 4-h infusions daily for 10 days, ketamine at most 0.35 mg/kg/h and never above "
        "25 mg/h (≤ 100 mg per session). The trial's premedication (midazolam 2 mg IV × 2, "
        "clonidine 0.1 mg PO) is not part of this dose plan. 1 mg/mL matches the trial's 25 mL/h "
        "at ≤ 25 mg/h [D]. Limits: clinic policy, to review."
    ),
)

DEPRESSION_MURROUGH_2013 = Protocol(
    key="depression-murrough-2013",
    name="Depression: 0.5 mg/kg over 40 min, 6 infusions over 12 days",
    version=1,
    indications=("depression",),
    dose_mode=DoseMode.MG_PER_KG_OVER_MIN,
    default_dose=Decimal("0.5"),
    dose_limit=Limit(soft_max=Decimal("0.5"), hard_max=Decimal("1.0")),
    # 0.5 mg/kg over 40 min is 0.75 mg/kg/h: 90 mg/h and 60 mg at 120 kg [D]; hard: 1.5 mg/kg/h
    # and 1 mg/kg at 100 kg [D]. Heavier patients need a reason or an adjusted weight.
    rate_limit_mg_per_h=Limit(soft_max=Decimal(90), hard_max=Decimal(150)),
    total_limit_mg=Limit(soft_max=Decimal(60), hard_max=Decimal(100)),
    default_duration_min=40,
    min_duration_min=40,
    max_duration_min=60,
    concentration_mg_per_ml=Decimal(1),
    bag_volume_ml=Decimal(100),
    series_sessions=6,
    series_spacing_days=2,  # 3 a week (e.g. Mon/Wed/Fri): 2–3 days apart
    maintenance_rule=(
        "Median time to relapse in Murrough 2013 responders was 18 days ([V] R16). Boosters are "
        "single infusions when symptoms return; no interval is established (one clinic reports "
        "4–6 weeks, a marketing source, [V] as a claim only, R37)."
    ),
    source=(
        "Murrough JW et al. Biol Psychiatry 2013;74:250–256, doi:10.1016/j.biopsych.2012.06.022 "
        "([V] REFERENCE §3b, R16): 6 infusions of 0.5 mg/kg over 40 min, 3 a week over 12 days. "
        "0.5 mg/kg over 40 min is the regimen of almost all depression trials ([V] R15–R17); that "
        "the APA statement (Sanacora 2017) recommends it is UNCONFIRMED. Duration bounds "
        "40–60 min and limits: clinic policy, to review. Observation: 60 min clinic policy; the "
        "esketamine label asks 2 h (REFERENCE §5c), which the clinic may prefer."
    ),
)

MIGRAINE_LAURITSEN_2016 = Protocol(
    key="migraine-lauritsen-2016",
    name="Migraine: start 0.1 mg/kg/h, titrate by 0.1 mg/kg/h",
    version=1,
    indications=("migraine",),
    dose_mode=DoseMode.MG_PER_KG_PER_H,
    default_dose=Decimal("0.1"),
    titration_step=Decimal("0.1"),
    # Lauritsen's highest rate at target was 0.42 mg/kg/h: going past the 0.4 step needs a reason.
    dose_limit=Limit(soft_max=Decimal("0.4"), hard_max=Decimal("1.0")),
    rate_limit_mg_per_h=Limit(soft_max=Decimal(40), hard_max=Decimal(60)),
    # 40 mg/h × 4 h and 60 mg/h × 5 h [D].
    total_limit_mg=Limit(soft_max=Decimal(160), hard_max=Decimal(300)),
    default_duration_min=240,
    concentration_mg_per_ml=Decimal(1),
    bag_volume_ml=Decimal(250),
    series_sessions=1,
    series_spacing_days=0,
    maintenance_rule=(
        "No outpatient series or booster interval is established for migraine: Lauritsen 2016 "
        "and Pomeroy 2017 were multi-day inpatient infusions (REFERENCE §3a). " + _NO_PAIN_BOOSTER
    ),
    source=(
        "Lauritsen C et al. J Headache Pain 2016;17:106, doi:10.1186/s10194-016-0700-3 ([V] "
        "REFERENCE §3a, R32): start 0.1 mg/kg/h, raise by 0.1 mg/kg/h every 3–4 h until pain "
        "≤ 3/10 is held for 8 h; mean rate at target 0.34 (0.12–0.42) mg/kg/h. That was an "
        "inpatient infusion over days; a single outpatient session of up to 5 h is clinic "
        "practice, UNCONFIRMED as a published protocol. Evidence for migraine is weak (Grade D, "
        "ASRA 2018, [S] R3–R5). Limits: clinic policy, to review."
    ),
)

CHRONIC_PAIN_LOW_DOSE = Protocol(
    key="chronic-pain-low-dose",
    name="Chronic pain, low dose: 0.1–0.5 mg/kg/h over 45 min–5 h",
    version=1,
    indications=("chronic_pain", "neuropathic_pain"),
    dose_mode=DoseMode.MG_PER_KG_PER_H,
    # 0.3 mg/kg/h × 80 kg × 4 h = 96 mg [D], above the ≥ 80 mg over > 2 h the digests ask for.
    default_dose=Decimal("0.3"),
    titration_step=Decimal("0.1"),
    dose_limit=Limit(soft_max=Decimal("0.5"), hard_max=Decimal("1.0")),
    rate_limit_mg_per_h=Limit(soft_max=Decimal(40), hard_max=Decimal(60)),
    # 40 mg/h × 5 h and 60 mg/h × 5 h [D].
    total_limit_mg=Limit(soft_max=Decimal(200), hard_max=Decimal(300)),
    default_duration_min=240,
    bolus=Bolus(
        dose_mg_per_kg=Decimal("0.1"),
        # Hard: the 0.35 mg/kg bolus ceiling of the ASRA 2018 digest ([S] R5); soft and the
        # 5-min administration: clinic policy.
        limit_mg_per_kg=Limit(soft_max=Decimal("0.2"), hard_max=Decimal("0.35")),
        over_min=5,
    ),
    concentration_mg_per_ml=Decimal(2),
    bag_volume_ml=Decimal(250),
    series_sessions=1,
    series_spacing_days=0,
    maintenance_rule=(
        "ASRA 2018 digests: start with a single outpatient infusion of at least 80 mg over more "
        "than 2 h, then reassess before committing to more ([S] REFERENCE §1b, R5/R6). "
        + _NO_PAIN_BOOSTER
    ),
    source=(
        "Clinic practice, UNCONFIRMED as a named standard (REFERENCE §3a): 0.1–0.5 mg/kg/h over "
        "45 min–5 h, in line with published outpatient protocols of 0.1–0.6 mg/kg/h (Rema 2012, "
        "0.2 → 0.4 → 0.6 mg/kg/h over 4 h, [V] R31; Schwartzman 2009, [V] R25). Limits: clinic "
        "policy, to review."
    ),
)

FIBROMYALGIA_GRAVEN_NIELSEN_2000 = Protocol(
    key="fibromyalgia-graven-nielsen-2000",
    name="Fibromyalgia: 0.3 mg/kg over 30 min",
    version=1,
    indications=("fibromyalgia",),
    dose_mode=DoseMode.MG_PER_KG_OVER_MIN,
    default_dose=Decimal("0.3"),
    dose_limit=Limit(soft_max=Decimal("0.3"), hard_max=Decimal("0.5")),
    # 0.3 mg/kg over 30 min is 0.6 mg/kg/h: 60 mg/h at 100 kg, 36 mg at 120 kg [D]; hard:
    # 0.5 mg/kg over 30 min at 100 kg is 100 mg/h, 0.5 mg/kg at 120 kg is 60 mg [D].
    rate_limit_mg_per_h=Limit(soft_max=Decimal(60), hard_max=Decimal(100)),
    total_limit_mg=Limit(soft_max=Decimal(36), hard_max=Decimal(60)),
    default_duration_min=30,
    min_duration_min=30,
    max_duration_min=60,
    concentration_mg_per_ml=Decimal(1),
    bag_volume_ml=Decimal(100),
    series_sessions=1,
    series_spacing_days=0,
    maintenance_rule=(
        "The trials gave single infusions; no series or booster interval is established. Noppers "
        "2011 found no difference from active placebo at 2.5 h, 1 week or 8 weeks ([V] R34). "
        "Evidence for fibromyalgia is weak (Grade D, ASRA 2018, [S] R3–R5). " + _NO_PAIN_BOOSTER
    ),
    source=(
        "Graven-Nielsen T et al. 2000: 0.3 mg/kg over 30 min, 58 % had a ≥ 50 % drop in VAS; "
        "Sörensen 1995/1997 gave 0.3 mg/kg over 10 min ([V] REFERENCE §3a, review table R35). "
        "Not faster than 30 min (so not Sörensen's 10 min), the 60-min upper bound and the limits: "
        "clinic policy, to review."
    ),
)

#: The seeded protocols by key.
PROTOCOLS = MappingProxyType(
    {
        protocol.key: protocol
        for protocol in (
            CRPS_SCHWARTZMAN_2009,
            DEPRESSION_MURROUGH_2013,
            MIGRAINE_LAURITSEN_2016,
            CHRONIC_PAIN_LOW_DOSE,
            FIBROMYALGIA_GRAVEN_NIELSEN_2000,
        )
    }
)
