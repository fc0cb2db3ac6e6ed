"""Features of one person from the city record: the latest and trended values of each analyte
across every hospital, in one unit per analyte, each with its provenance (the Observation, the
facility that produced it, when); the diagnosis history (KCD-8 / ICD-10) and the medication
history (ATC classes: on antihypertensives, statins, diabetes drugs).

Two halves:
- :func:`features_from_resources` is pure: FHIR JSON in, :class:`PersonFeatures` out. CDS Hooks
  prefetch data and unit tests use it directly.
- :func:`gather` reads the record through the one door (``records.begin(ctx, "cds-features")``,
  then ``RecordSession.everything`` per Patient): the caller's AccessContext decides what is
  read, and the read is audited. Types the caller may not read are listed in
  ``PersonFeatures.unreadable`` so that nothing downstream mistakes "not allowed to see" for
  "has none".

A person is a list of facility Patient ids (:func:`features_from_resources` and
:func:`read_record` take the list). :func:`linked_patient_ids` is the seam to issue 4's master
patient index: it follows ``Person.link`` when a Person links the Patient, and otherwise answers
only the Patient asked for.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from khealth.access.context import AccessContext
from khealth.cds import record_codes
from khealth.cds.analytes import BY_CODE, LOINC, SMOKING_CODES, URINE_PROTEIN_GRADES, Analyte
from khealth.cds.units import canonical_unit, to_canonical
from khealth.fhir.search_parse import parse_search
from khealth.records.service import Records, RecordSession

Sex = Literal["male", "female"]
Resource = Mapping[str, Any]
KST = dt.timezone(dt.timedelta(hours=9))
#: what features read; Encounter and Patient only to find the facility behind a value
RECORD_TYPES = ("Patient", "Encounter", "Observation", "Condition", "MedicationRequest")
USABLE_STATUS = frozenset({"final", "amended", "corrected"})
CHECKUP_ENCOUNTER_TYPES = frozenset({"national-health-checkup"})
PAGE = 1000  # the search page cap (parse_search's max_count)
#: a completed prescription still counts as current this long after its supply runs out
PRESCRIPTION_GRACE = dt.timedelta(days=30)


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a value came from: the resource (``Observation/id``), the facility Patient it was
    recorded under, the facility (``Organization/id``, None when the record does not say) and
    the encounter."""

    resource: str
    patient: str
    facility: str | None
    encounter: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"resource": self.resource, "patient": self.patient,
                "facility": self.facility, "encounter": self.encounter}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Measurement:
    analyte: str
    value: float | str  # str for coded analytes (urine protein grade, smoking status)
    unit: str  # canonical unit; "" for coded values
    when: dt.datetime
    provenance: Provenance

    @property
    def number(self) -> float:
        assert isinstance(self.value, float)
        return self.value

    def as_dict(self) -> dict[str, object]:
        return {"value": self.value, "unit": self.unit, "date": self.when.isoformat(),
                "provenance": self.provenance.as_dict()}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Diagnosis:
    code: str
    system: str
    display: str
    onset: dt.date | None
    active: bool
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class MedicationOrder:
    name: str
    atc: tuple[str, ...]
    classes: frozenset[str]
    status: str
    authored: dt.datetime | None
    supply_end: dt.date | None
    provenance: Provenance

    def current(self, as_of: dt.date) -> bool:
        if self.status in ("active", "on-hold"):
            return True
        if self.status != "completed" or self.supply_end is None:
            return False
        return self.supply_end + PRESCRIPTION_GRACE >= as_of


@dataclass(frozen=True, slots=True)
class PersonFeatures:
    patient_ids: tuple[str, ...]
    as_of: dt.date
    sex: Sex | None
    birth_date: dt.date | None
    series: Mapping[str, tuple[Measurement, ...]]  # oldest first
    diagnoses: tuple[Diagnosis, ...] = ()
    medications: tuple[MedicationOrder, ...] = ()
    checkup_encounters: frozenset[str] = frozenset()
    unreadable: tuple[str, ...] = ()  # resource types the caller may not read
    skipped_values: int = 0  # values left out: unknown unit or unusable status
    facilities: tuple[str, ...] = field(default=())

    @property
    def age(self) -> float | None:
        if self.birth_date is None:
            return None
        return (self.as_of - self.birth_date).days / 365.2425

    def trend(self, key: str) -> tuple[Measurement, ...]:
        return self.series.get(key, ())

    def latest(self, key: str, within_days: int | None = None) -> Measurement | None:
        found = self.trend(key)
        if not found:
            return None
        last = found[-1]
        if within_days is not None and (self.as_of - last.when.date()).days > within_days:
            return None
        return last

    def knows(self, resource_type: str) -> bool:
        return resource_type not in self.unreadable

    def on(self, medication_class: str) -> bool:
        return any(
            medication_class in m.classes and m.current(self.as_of) for m in self.medications
        )

    def ever_on(self, medication_class: str) -> bool:
        return any(medication_class in m.classes for m in self.medications)

    def diagnosed(self, group: str) -> bool:
        return any(d.active and record_codes.in_group(d.code, group) for d in self.diagnoses)

    @property
    def smoking(self) -> str | None:
        latest = self.latest("smoking_status")
        return None if latest is None else str(latest.value)


def linked_patient_ids(rs: RecordSession, patient_id: str) -> list[str]:
    """Every facility Patient of the person behind ``patient_id``: the seam for issue 4's master
    patient index, which links facility Patients to one city-level Person (``Person.link``).
    Reads ``Person?link=Patient/{id}`` through the record service; without a Person (or without
    the right to search Person) a Patient is its own person. A patient-bound token keeps to
    its own Patient, since the access layer does not yet let it reach the others."""
    if not rs.ctx.can("Person", "s") or rs.ctx.compartment_bound("Patient", "r"):
        return [patient_id]
    query = parse_search("Person", [("link", f"Patient/{patient_id}"), ("_count", "10")])
    linked = [patient_id]
    for person in rs.search(query).page.matches:
        for link in orjson.loads(person.content).get("link", []):
            ref = _reference(link.get("target"))
            if ref is not None and ref.startswith("Patient/"):
                linked.append(ref.removeprefix("Patient/"))
    return list(dict.fromkeys(linked))


def gather(
    records: Records, ctx: AccessContext, patient_id: str, as_of: dt.date | None = None
) -> PersonFeatures:
    """The features of the person behind ``patient_id`` (all their linked facility Patients),
    read through the record service with the caller's context."""
    with records.begin(ctx, "cds-features") as rs:
        patient_ids = linked_patient_ids(rs, patient_id)
        resources, unreadable = read_record(rs, patient_ids)
    day = as_of or dt.datetime.fromtimestamp(records.clock.now_us() / 1e6, KST).date()
    return features_from_resources(resources, patient_ids, day, unreadable)


def read_record(
    rs: RecordSession, patient_ids: Sequence[str], types: Sequence[str] = RECORD_TYPES
) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
    """Each Patient (a read: one the caller may not read raises Forbidden, an unknown one
    NotFound) and the resources of ``types`` in their compartments, by one search per type
    over all the Patients (``patient=a,b``), paged; and the types the caller's scopes leave
    out. Search rather than $everything: features need no referenced resources, and walking
    every reference of ten years of records cost more than the rest of a CDS call."""
    unique = list(dict.fromkeys(patient_ids))
    found = [orjson.loads(rs.read("Patient", pid).content) for pid in unique]
    others = [t for t in types if t != "Patient"]
    unreadable = tuple(t for t in others if not rs.ctx.can(t, "s"))
    for resource_type in others:
        if unique and resource_type not in unreadable:
            found.extend(_search_all(rs, resource_type, unique))
    return found, unreadable


def _search_all(
    rs: RecordSession, resource_type: str, patient_ids: list[str]
) -> list[dict[str, Any]]:
    subjects = ",".join(f"Patient/{pid}" for pid in patient_ids)
    found: list[dict[str, Any]] = []
    offset = 0
    while True:
        query = parse_search(resource_type, [("patient", subjects), ("_count", str(PAGE)),
                                             ("_offset", str(offset))])  # fmt: skip
        matches = rs.search(query).page.matches
        found.extend(orjson.loads(m.content) for m in matches)
        if len(matches) < PAGE:
            return found
        offset += PAGE


def features_from_resources(
    resources: Iterable[Resource],
    patient_ids: Sequence[str],
    as_of: dt.date,
    unreadable: Sequence[str] = (),
) -> PersonFeatures:
    by_type: dict[str, dict[str, Resource]] = {}
    for resource in resources:
        kind, id = resource.get("resourceType"), resource.get("id")
        if isinstance(kind, str) and isinstance(id, str):
            by_type.setdefault(kind, {})[id] = resource
    places = _Places(by_type.get("Patient", {}), by_type.get("Encounter", {}))
    series, skipped = _series(by_type.get("Observation", {}).values(), places)
    patients = [by_type.get("Patient", {}).get(pid) for pid in patient_ids]
    known = [p for p in patients if p is not None]
    return PersonFeatures(
        patient_ids=tuple(patient_ids),
        as_of=as_of,
        sex=_mode(_sex(p) for p in known),
        birth_date=_mode(_date(p.get("birthDate")) for p in known),
        series=series,
        diagnoses=_diagnoses(by_type.get("Condition", {}).values(), places),
        medications=_medications(by_type.get("MedicationRequest", {}).values(), places),
        checkup_encounters=places.checkups,
        unreadable=tuple(unreadable),
        skipped_values=skipped,
        facilities=tuple(sorted(places.seen)),
    )


class _Places:
    """Which facility stands behind a resource: its encounter's serviceProvider, else its
    Patient's managingOrganization (one facility Patient per facility in the city record)."""

    def __init__(self, patients: Mapping[str, Resource], encounters: Mapping[str, Resource]):
        self.patients = {
            pid: _reference(p.get("managingOrganization")) for pid, p in patients.items()
        }
        self.encounters = {
            eid: _reference(e.get("serviceProvider")) for eid, e in encounters.items()
        }
        self.checkups = frozenset(
            eid for eid, e in encounters.items() if _encounter_types(e) & CHECKUP_ENCOUNTER_TYPES
        )
        self.seen: set[str] = set()

    def of(self, resource: Resource) -> Provenance:
        patient = _reference(resource.get("subject")) or ""
        encounter = _reference(resource.get("encounter"))
        facility = _performer_organization(resource)
        if facility is None and encounter is not None:
            facility = self.encounters.get(encounter.removeprefix("Encounter/"))
        if facility is None:
            facility = self.patients.get(patient.removeprefix("Patient/"))
        if facility is not None:
            self.seen.add(facility)
        kind, id = resource.get("resourceType"), resource.get("id")
        return Provenance(f"{kind}/{id}", patient, facility, encounter)


# -- observations -------------------------------------------------------------------------


def _series(
    observations: Iterable[Resource], places: _Places
) -> tuple[dict[str, tuple[Measurement, ...]], int]:
    found: dict[str, list[Measurement]] = {}
    skipped = 0
    for observation in observations:
        if observation.get("status") not in USABLE_STATUS:
            skipped += 1
            continue
        when = _effective(observation)
        if when is None:
            skipped += 1
            continue
        provenance = places.of(observation)
        for analyte, value, unit in _values(observation):
            if value is None:
                skipped += 1
                continue
            found.setdefault(analyte.key, []).append(
                Measurement(analyte.key, value, unit, when, provenance)
            )
    ordered = {
        key: tuple(sorted(values, key=lambda m: (m.when, m.provenance.resource)))
        for key, values in found.items()
    }
    return ordered, skipped


def _values(observation: Resource) -> Iterable[tuple[Analyte, float | str | None, str]]:
    """(analyte, value in its canonical unit or None if unusable, unit) for the observation's
    own code and each component (a blood-pressure panel carries SBP and DBP as components)."""
    parts: list[Resource] = [observation, *observation.get("component", [])]
    for part in parts:
        if "dataAbsentReason" in part:
            continue
        analyte = _analyte(part.get("code"))
        if analyte is None:
            continue
        if analyte.kind == "coded":
            yield analyte, _coded(analyte, part), ""
        elif isinstance(part.get("valueQuantity"), dict):
            yield (
                analyte,
                _quantity(analyte, part["valueQuantity"]),
                canonical_unit(analyte.dimension),
            )


def _analyte(code: Any) -> Analyte | None:
    for coding in (code or {}).get("coding", []):
        if coding.get("system") == LOINC and coding.get("code") in BY_CODE:
            return BY_CODE[coding["code"]]
    return None


def _quantity(analyte: Analyte, quantity: Mapping[str, Any]) -> float | None:
    value = quantity.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if quantity.get("comparator"):  # "<5" is not a value
        return None
    unit = quantity.get("code") or quantity.get("unit")
    return to_canonical(analyte.dimension, float(value), unit if isinstance(unit, str) else None)


def _coded(analyte: Analyte, part: Resource) -> str | None:
    concept = part.get("valueCodeableConcept") or {}
    answers = [c.get("code") for c in concept.get("coding", [])]
    texts = [concept.get("text"), part.get("valueString")]
    texts += [c.get("display") for c in concept.get("coding", [])]
    if analyte.key == "smoking_status":
        return next((SMOKING_CODES[a] for a in answers if a in SMOKING_CODES), None)
    for text in [*answers, *texts]:
        if isinstance(text, str) and text.strip().lower() in URINE_PROTEIN_GRADES:
            return URINE_PROTEIN_GRADES[text.strip().lower()]
    return None


# -- conditions and medications -----------------------------------------------------------


def _diagnoses(conditions: Iterable[Resource], places: _Places) -> tuple[Diagnosis, ...]:
    found = []
    for condition in conditions:
        status = _first_code(condition.get("verificationStatus"))
        if status in ("refuted", "entered-in-error"):
            continue
        coding = next(
            (c for c in (condition.get("code") or {}).get("coding", [])
             if c.get("system") in record_codes.ICD10_SYSTEMS and c.get("code")),
            None,
        )  # fmt: skip
        if coding is None:
            continue
        clinical = _first_code(condition.get("clinicalStatus"))
        active = clinical in ("active", "recurrence", "relapse") or (
            clinical is None and "abatementDateTime" not in condition
        )
        onset = _date(condition.get("onsetDateTime") or condition.get("recordedDate"))
        found.append(Diagnosis(str(coding["code"]), str(coding["system"]),
                               str(coding.get("display") or ""), onset, active,
                               places.of(condition)))  # fmt: skip
    return tuple(sorted(found, key=lambda d: (d.onset or dt.date.min, d.code)))


def _medications(requests: Iterable[Resource], places: _Places) -> tuple[MedicationOrder, ...]:
    found = []
    for request in requests:
        status = str(request.get("status", ""))
        if status in ("entered-in-error", "cancelled", "draft"):
            continue
        concept = request.get("medicationCodeableConcept") or {}
        codings = concept.get("coding", [])
        atc = tuple(str(c["code"]) for c in codings if c.get("system") == record_codes.ATC
                    and c.get("code"))  # fmt: skip
        names = [str(n) for n in [concept.get("text"), *(c.get("display") for c in codings)] if n]
        authored = _instant(request.get("authoredOn"))
        found.append(MedicationOrder(
            names[0] if names else "", atc, record_codes.classes_of(atc, names), status,
            authored, _supply_end(request, authored), places.of(request),
        ))  # fmt: skip
    return tuple(sorted(found, key=lambda m: (m.authored or _EPOCH, m.provenance.resource)))


def _supply_end(request: Resource, authored: dt.datetime | None) -> dt.date | None:
    dispense = request.get("dispenseRequest") or {}
    duration = dispense.get("expectedSupplyDuration") or {}
    days = duration.get("value")
    if authored is None or not isinstance(days, int | float) or duration.get("code") != "d":
        validity = (dispense.get("validityPeriod") or {}).get("end")
        return _date(validity) if validity else None
    return authored.date() + dt.timedelta(days=float(days))


# -- small readers --------------------------------------------------------------------------

_EPOCH = dt.datetime(1900, 1, 1, tzinfo=KST)


def _reference(value: Any) -> str | None:
    ref = value.get("reference") if isinstance(value, dict) else None
    return ref if isinstance(ref, str) and "/" in ref else None


def _performer_organization(resource: Resource) -> str | None:
    for performer in resource.get("performer", []):
        ref = _reference(performer)
        if ref is not None and ref.startswith("Organization/"):
            return ref
    return None


def _encounter_types(encounter: Resource) -> set[str]:
    return {str(c.get("code")) for t in encounter.get("type", []) for c in t.get("coding", [])}


def _first_code(concept: Any) -> str | None:
    codings = concept.get("coding", []) if isinstance(concept, dict) else []
    return str(codings[0].get("code")) if codings and codings[0].get("code") else None


def _sex(patient: Resource) -> Sex | None:
    gender = patient.get("gender")
    return gender if gender in ("male", "female") else None


def _mode(values: Iterable[Any]) -> Any:
    """The most common known value (identity noise can make facility Patients disagree);
    ties go to the first seen."""
    counts = Counter(v for v in values if v is not None)
    return counts.most_common(1)[0][0] if counts else None


def _instant(text: Any) -> dt.datetime | None:
    if not isinstance(text, str) or len(text) < 4:
        return None
    padded = {4: "-01-01", 7: "-01"}.get(len(text), "")
    try:
        moment = dt.datetime.fromisoformat(text + padded)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=KST)


def _date(text: Any) -> dt.date | None:
    moment = _instant(text)
    return None if moment is None else moment.date()


def _effective(observation: Resource) -> dt.datetime | None:
    period = observation.get("effectivePeriod") or {}
    return _instant(
        observation.get("effectiveDateTime")
        or observation.get("effectiveInstant")
        or period.get("start")
        or observation.get("issued")
    )
