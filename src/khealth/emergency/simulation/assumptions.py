"""Every number the simulator assumes, in one place, with where it comes from.

"Reference" is ``shared/reference/emergency-and-risk.md``; "ASSUMPTION" marks a number that no
source here gives and that should be replaced by run-sheet data when it exists. The report prints
this table (:func:`assumption_rows`), so a reader sees exactly what produced the figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from khealth.emergency.destination import POLICY
from khealth.emergency.model import Capability


@dataclass(frozen=True, slots=True)
class Assumptions:
    # -- the city ------------------------------------------------------------------------
    #: Gwangju's resident population, end of 2023 (KOSIS, reference via synth/geography.py).
    population: int = 1_410_000
    #: 119 safety centres (ambulance bases) placed in the districts by population share.
    ambulance_bases: int = 25  # ASSUMPTION: Gwangju runs ≈ 25 119안전센터 under 5 fire stations
    # -- the ambulance -------------------------------------------------------------------
    dispatch_minutes: float = 2.0  # call taking + turnout (ASSUMPTION)
    on_scene_minutes: float = 10.0  # assessment, ECG, packaging before the first call (ASSUMPTION)
    arrest_on_scene_minutes: float = 15.0  # CPR on scene before transport (ASSUMPTION)
    call_minutes: float = 3.0  # one phone inquiry to an ER and its answer (ASSUMPTION)
    #: after this many declines the 119 situation centre (구급상황관리센터) designates the
    #: policy's first choice, which must receive the patient (ASSUMPTION; re-transfers after
    #: refusal run up to 4 in the 2023 NFA figures, reference §1.4)
    max_inquiries: int = 5
    handover_minutes: float = POLICY.handover  # same as the ranking's (destination.RankPolicy)
    # -- the crew's findings (what triage can see) ---------------------------------------
    #: share of chest-pain calls with a 12-lead ECG recorded on scene (ASSUMPTION: not every
    #: Korean ambulance transmits a 12-lead; varied in the report's sensitivity runs)
    ecg_recorded: float = 0.5
    ecg_sensitivity: float = 0.85  # STEMI criteria met on the field ECG (ASSUMPTION)
    #: LAMS ≥ 4 for LVO: mean of Nazliel 2008 (sens 0.81, spec 0.89) and LIT-PASS (0.73, 0.57),
    #: reference §2.1
    lams_sensitivity: float = 0.77
    lams_specificity: float = 0.73
    cincinnati_positive: float = 0.8  # a stroke shows on the face-arm-speech screen (ASSUMPTION)
    trauma_mechanism_seen: float = 0.6  # major trauma: a high-risk mechanism recorded (ASSUMPTION)
    trauma_pattern_seen: float = 0.5  # major trauma: a red injury pattern recorded (ASSUMPTION)
    minor_trauma_mechanism: float = 0.05  # minor injury with a high-risk mechanism (over-triage)
    anticoagulated_over_65: float = 0.2  # recorded anticoagulant/antiplatelet use (ASSUMPTION)
    major_burn_share: float = 0.35  # burns over 10 % TBSA or inhalation (ASSUMPTION)
    stroke_onset_minutes: tuple[float, float] = (20.0, 240.0)  # onset before the call, uniform
    # -- hospitals -----------------------------------------------------------------------
    #: probability that an ER declines for a reason no status shows (staff busy, "other" is
    #: 70 % of the reasons in MOHW's H1-2020 re-transfer figures, reference §1.4; Korea's
    #: re-transfer rate is 0.5-1 % of transports, Japan's inquiry rejection 30 %): ASSUMPTION
    base_refusal: float = 0.05
    #: share of hours in which a hospital's published acceptance flags and on-call list are the
    #: previous hour's (flags are set by hand; beds come from the EMR feed): ASSUMPTION
    flags_lag_share: float = 0.25
    status_interval_minutes: int = 5  # the simulator publishes each ER's status this often
    #: door-in-door-out of a secondary transfer (ACC/AHA goal ≤ 30 min, reference §2.1; US
    #: registries find a median near 60-70 min, Wang TY et al. JAMA 2011;305:2540): ASSUMPTION 60
    door_in_door_out_minutes: float = 60.0
    #: door to definitive treatment with pre-notification: the ranking's own table
    door_to_treatment: Mapping[Capability, float] = field(
        default_factory=lambda: dict(POLICY.door_to_treatment)
    )
    #: ED length of stay (minutes, median; log-normal with σ = 0.5), by Pre-KTAS level: ASSUMPTION
    #: after NEDIS medians of 3-4 h with admitted patients longer
    los_by_level: Mapping[int, float] = field(
        default_factory=lambda: {1: 360.0, 2: 300.0, 3: 240.0, 4: 150.0, 5: 120.0}
    )
    los_after_procedure_minutes: float = 60.0  # to the cath lab, angio suite or theatre
    los_sigma: float = 0.5


DEFAULT = Assumptions()


def assumption_rows(a: Assumptions) -> list[tuple[str, str]]:
    """(name, value) for the report, in declaration order."""
    rows: list[tuple[str, str]] = []
    for item in fields(a):
        value = getattr(a, item.name)
        if isinstance(value, Mapping):
            text = ", ".join(f"{k}: {v:g}" for k, v in value.items())
        elif isinstance(value, tuple):
            text = "–".join(f"{v:g}" for v in value)
        elif isinstance(value, float):
            text = f"{value:g}"
        else:
            text = str(value)
        rows.append((item.name, text))
    return rows
