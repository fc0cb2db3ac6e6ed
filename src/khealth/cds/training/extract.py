"""One person's record → the facts the models use: values known before the index date and the
outcome events in the horizon after it.

A person here is everything the city holds for one citizen across facilities (the master
patient index's job; the synthetic city hands it over as ground truth). Reading is one pass over
the resources. Dates are compared as ISO strings ("YYYY-MM-DD"), which order correctly.
Everything "before the index date" means strictly before it, as a clinician at the index date
would see the record; prevalence for cohort exclusion uses the condition's onset instead, so
that a disease that began before the index date but was written down later still excludes.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from khealth.cds.training import definitions as d

Resource = Mapping[str, Any]
NAN = math.nan


@dataclass(frozen=True, slots=True)
class Window:
    """Index date and the end of the outcome horizon (inclusive)."""

    index: dt.date
    end: dt.date

    @property
    def index_text(self) -> str:
        return self.index.isoformat()

    @property
    def end_text(self) -> str:
        return self.end.isoformat()


@dataclass(frozen=True, slots=True)
class PersonFacts:
    """Identifying fields are kept only until de-identification (see deid.py)."""

    person_key: str
    birth_date: dt.date
    female: bool
    district: str
    death_date: dt.date | None
    values: dict[str, float]  # features and outcomes, NaN when unknown


@dataclass
class _Reader:
    window: Window
    latest: dict[str, tuple[str, float]] = field(default_factory=dict)
    maxima: dict[str, float] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    prevalent: set[str] = field(default_factory=set)
    first_event: dict[str, str] = field(default_factory=dict)
    checkups: list[str] = field(default_factory=list)
    recent_encounters: int = 0
    followup_egfr_min: float = math.inf
    patients: list[Resource] = field(default_factory=list)

    def read(self, resource: Resource) -> None:
        kind = resource.get("resourceType")
        if kind == "Observation":
            self._observation(resource)
        elif kind == "Condition":
            self._condition(resource)
        elif kind == "MedicationRequest":
            self._medication(resource)
        elif kind == "Encounter":
            self._encounter(resource)
        elif kind == "Patient":
            self.patients.append(resource)

    def _keep(self, feature: str, when: str, value: float) -> None:
        known = self.latest.get(feature)
        if known is None or when >= known[0]:
            self.latest[feature] = (when, value)
        if value > self.maxima.get(feature, -math.inf):
            self.maxima[feature] = value

    def _observation(self, resource: Resource) -> None:
        when = str(resource.get("effectiveDateTime", ""))
        day = when[:10]
        code = _code(resource.get("code"), d.LOINC)
        if not day or code is None:
            return
        if day < self.window.index_text:
            self._baseline_observation(code, when, resource)
        elif code == "98979-8" and day <= self.window.end_text:
            value = _quantity(resource.get("valueQuantity"), d.ANALYTE_BY_LOINC[code])
            if value is not None:
                self.followup_egfr_min = min(self.followup_egfr_min, value)

    def _baseline_observation(self, code: str, when: str, resource: Resource) -> None:
        analyte = d.ANALYTE_BY_LOINC.get(code)
        if analyte is not None:
            value = _quantity(resource.get("valueQuantity"), analyte)
            if value is not None:
                self._keep(analyte.feature, when, value)
        elif code == d.BP_PANEL:
            for component in resource.get("component", ()):
                part = _code(component.get("code"), d.LOINC)
                number = (component.get("valueQuantity") or {}).get("value")
                if part in (d.SYSTOLIC, d.DIASTOLIC) and isinstance(number, int | float):
                    self._keep("sbp" if part == d.SYSTOLIC else "dbp", when, float(number))
        elif code == d.URINE_PROTEIN:
            text = (resource.get("valueCodeableConcept") or {}).get("text", "")
            if text in d.URINE_PROTEIN_GRADE:
                self._keep("urine_protein", when, d.URINE_PROTEIN_GRADE[text])
        elif code == d.SMOKING_STATUS:
            status = _code(resource.get("valueCodeableConcept"), d.SNOMED)
            if status in d.SMOKING:
                current, former = d.SMOKING[status]
                self._keep("smoking_current", when, current)
                self._keep("smoking_former", when, former)

    def _condition(self, resource: Resource) -> None:
        code = _code(resource.get("code"), d.KCD8)
        onset = str(resource.get("onsetDateTime") or resource.get("recordedDate") or "")[:10]
        recorded = str(resource.get("recordedDate") or onset)[:10]
        if code is None or not onset:
            return
        if onset <= self.window.index_text:
            self._prevalent(code)
        if recorded < self.window.index_text:
            for group, ranges in d.DIAGNOSIS_GROUPS.items():
                if d.in_ranges(code, ranges):
                    self.flags.add(group)
        elif self.window.index_text < onset <= self.window.end_text:
            for outcome in _outcomes_of(code):
                if onset < self.first_event.get(outcome, "9999"):
                    self.first_event[outcome] = onset

    def _prevalent(self, code: str) -> None:
        if d.in_ranges(code, d.ANY_DIABETES):
            self.prevalent.add("diabetes")
        if d.in_ranges(code, d.CARDIOVASCULAR):
            self.prevalent.add("cvd")
        if code[:5] in d.CKD_STAGE_3_PLUS:
            self.prevalent.add("ckd3")

    def _medication(self, resource: Resource) -> None:
        atc = _code(resource.get("medicationCodeableConcept"), d.ATC)
        day = str(resource.get("authoredOn", ""))[:10]
        if atc is None or not day or day >= self.window.index_text:
            return
        for name, prefixes in d.DRUG_CLASSES.items():
            if d.in_drug_class(atc, prefixes):
                self.flags.add(name)

    def _encounter(self, resource: Resource) -> None:
        day = str((resource.get("period") or {}).get("start", ""))[:10]
        if not day or day >= self.window.index_text:
            return
        two_years_before = (self.window.index - dt.timedelta(days=730)).isoformat()
        if day >= two_years_before:
            self.recent_encounters += 1
        kinds = {c.get("code") for t in resource.get("type", ()) for c in t.get("coding", ())}
        if d.CHECKUP_ENCOUNTER in kinds:
            self.checkups.append(day)


def _code(concept: object, system: str) -> str | None:
    if not isinstance(concept, Mapping):
        return None
    for coding in concept.get("coding", ()):
        if coding.get("system") == system and coding.get("code"):
            return str(coding["code"])
    return None


def _quantity(quantity: object, analyte: d.Analyte) -> float | None:
    if not isinstance(quantity, Mapping):
        return None
    value, unit = quantity.get("value"), quantity.get("code") or quantity.get("unit")
    factor = analyte.units.get(str(unit))
    if factor is None or not isinstance(value, int | float):
        return None
    return float(value) * factor


def _outcomes_of(code: str) -> tuple[str, ...]:
    found = []
    if d.in_ranges(code, d.TYPE2_DIABETES):
        found.append("diabetes")
    if d.in_ranges(code, d.CARDIOVASCULAR):
        found.append("cvd")
    if code[:5] in d.CKD_STAGE_3_PLUS:
        found.append("ckd3")
    return tuple(found)


def read_person(
    person_key: str, resources: Iterable[Resource], window: Window
) -> PersonFacts | None:
    """The facts of one person, or None when the record holds no Patient at all."""
    reader = _Reader(window)
    for resource in resources:
        reader.read(resource)
    if not reader.patients:
        return None
    birth, female, district, death = _demographics(reader.patients)
    return PersonFacts(person_key, birth, female, district, death, _values(reader, window))


def _mode(values: Iterable[str]) -> str:
    """The most common value; ties go to the smallest, so that the answer is deterministic."""
    counts = Counter(values)
    best = max(counts.values())
    return min(v for v, n in counts.items() if n == best)


def _demographics(patients: list[Resource]) -> tuple[dt.date, bool, str, dt.date | None]:
    # Facilities disagree now and then (typos, a move); the majority is the best estimate.
    birth = _mode(str(p.get("birthDate", "")) for p in patients)
    gender = _mode(str(p.get("gender", "")) for p in patients)
    district = _mode(str((p.get("address") or [{}])[0].get("district", "")) for p in patients)
    deaths = [str(p["deceasedDateTime"])[:10] for p in patients if p.get("deceasedDateTime")]
    death = dt.date.fromisoformat(min(deaths)) if deaths else None
    return dt.date.fromisoformat(birth), gender == "female", district, death


def _values(reader: _Reader, window: Window) -> dict[str, float]:
    values = {name: value for name, (_, value) in reader.latest.items()}
    values["glucose_max"] = reader.maxima.get("glucose", NAN)
    values["sbp_max"] = reader.maxima.get("sbp", NAN)
    for name in (*d.DIAGNOSIS_GROUPS, *d.DRUG_CLASSES):
        values[name] = 1.0 if name in reader.flags else 0.0
    values["encounters_2y"] = float(reader.recent_encounters)
    values["checkups_before_index"] = float(len(reader.checkups))
    last = max(reader.checkups, default=None)
    values["days_since_checkup"] = (
        float((window.index - dt.date.fromisoformat(last)).days) if last else NAN
    )
    for flag in ("diabetes", "cvd", "ckd3"):
        values[f"prevalent_{flag}"] = 1.0 if flag in reader.prevalent else 0.0
    for outcome in ("diabetes", "cvd", "ckd3"):
        first = reader.first_event.get(outcome)
        values[f"{outcome}_event_day"] = (
            float((dt.date.fromisoformat(first) - window.index).days) if first else NAN
        )
    values["followup_egfr_min"] = (
        reader.followup_egfr_min if reader.followup_egfr_min < math.inf else NAN
    )
    return values
