"""One citizen's generation context: streams, facility registrations and the resources made."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any

from khealth.synth import codes
from khealth.synth.citizens import Citizen
from khealth.synth.clinical_resources import KST, Resource
from khealth.synth.config import SynthConfig
from khealth.synth.facilities import Facility, FacilityIndex
from khealth.synth.geography import address_to_fhir
from khealth.synth.noise import Registration, register
from khealth.synth.physiology import Physiology
from khealth.synth.streams import opaque_id, stream


@dataclass(frozen=True)
class GroundTruth:
    patient_id: str
    citizen_id: str
    facility_id: str
    mrn: str
    duplicate_of: str  # the facility's first Patient id for a duplicate registration, else ""
    noise: tuple[str, ...]


@dataclass(frozen=True)
class ImagingJob:
    """A study for which `dicom.py` may write real files."""

    study_uid: str
    series_uid: str
    instance_uids: tuple[str, ...]
    modality: str
    body_part: str
    patient_id: str
    mrn: str
    patient_name: str
    birth_date: dt.date
    female: bool
    when: dt.datetime
    facility_name: str
    accession: str


@dataclass
class _Registered:
    patient_ids: list[str]
    registration: Registration
    mrn: str


@dataclass
class CitizenOutput:
    resources: list[Resource] = field(default_factory=list)
    ground_truth: list[GroundTruth] = field(default_factory=list)
    checkups: list[dict[str, Any]] = field(default_factory=list)
    imaging: list[ImagingJob] = field(default_factory=list)


class MrnCounters:
    """One citizen's MRNs: derived from (seed, facility, citizen index, registration number).

    A keyed Feistel permutation of `citizen index × 4 + registration number` over 2**26 values
    gives 8 digits that are unique within a facility, look unrelated across facilities (so an
    MRN says nothing about which citizen is behind it), and need no state shared between
    citizens — which is what lets worker processes generate citizens in parallel.
    """

    def __init__(self, seed: int, citizen_index: int) -> None:
        if citizen_index >= 1 << 24:
            raise ValueError("MRN space holds 16.7 million citizens")
        self.seed, self.citizen_index = seed, citizen_index
        self._count: dict[str, int] = {}

    def next(self, facility: Facility) -> str:
        registration = self._count.get(facility.id, 0)
        self._count[facility.id] = registration + 1
        number = _permute(f"{self.seed}\x1f{facility.id}", self.citizen_index * 4 + registration)
        return f"{facility.code[-4:]}{number:08d}"


def _permute(key: str, value: int) -> int:
    left, right = value >> 13, value & 0x1FFF
    for round_ in range(4):
        digest = hashlib.blake2b(f"{key}\x1f{round_}\x1f{right}".encode(), digest_size=2)
        left, right = right, left ^ (int.from_bytes(digest.digest(), "big") & 0x1FFF)
    return (left << 13) | right


class History:
    def __init__(
        self,
        citizen: Citizen,
        config: SynthConfig,
        facilities: FacilityIndex,
        mrns: MrnCounters,
    ) -> None:
        self.citizen = citizen
        self.config = config
        self.facilities = facilities
        self.mrns = mrns
        self.rng = stream(config.seed, "history", citizen.index)
        self._ids = stream(config.seed, "ids", citizen.index)
        self._noise = stream(config.seed, "noise", citizen.index)
        self.body = Physiology(citizen, self.rng)
        self.out = CitizenOutput()
        self.registered: dict[str, _Registered] = {}
        self._usual: dict[str, Facility] = {}
        self.start = max(config.history_start, citizen.birth_date)
        self.end = citizen.death_date or config.today

    def new_id(self) -> str:
        return opaque_id(self._ids)

    def add(self, resource: Resource) -> str:
        self.out.resources.append(resource)
        return str(resource["id"])

    def at(self, day: dt.date, first_hour: int = 9, last_hour: int = 17) -> dt.datetime:
        minutes = self.rng.randint(first_hour * 60, last_hour * 60 + 30)
        return dt.datetime.combine(day, dt.time(minutes // 60, minutes % 60), KST)

    def random_day(self, start: dt.date | None = None, end: dt.date | None = None) -> dt.date:
        first, last = start or self.start, end or self.end
        span = max(0, (last - first).days)
        return first + dt.timedelta(days=self.rng.randint(0, span))

    def usual_clinic(self, department: str) -> Facility:
        """People mostly return to the clinic they know for a department (85 %)."""
        known = self._usual.get(department)
        if known is not None and self.rng.random() < 0.85:
            return known
        clinic = self.facilities.clinic(self.rng, self.citizen.address.district, department)
        self._usual.setdefault(department, clinic)
        return clinic

    def patient_at(self, facility: Facility) -> str:
        """The facility Patient id for this citizen, registering at first contact."""
        known = self.registered.get(facility.id) or self._register(facility)
        ids = known.patient_ids
        if len(ids) > 1 and self._noise.random() < 0.3:  # the duplicate chart gets some visits
            return ids[1]
        return ids[0]

    def _register(self, facility: Facility) -> _Registered:
        registration = register(self._noise, self.citizen, self.config.noise)
        patient_id = self.new_id()
        mrn = self.mrns.next(facility)
        entry = _Registered([patient_id], registration, mrn)
        self.registered[facility.id] = entry
        self._emit_patient(facility, patient_id, mrn, registration, duplicate_of="")
        if self._noise.random() < self.config.noise.duplicate_registration:
            # A second chart at the same facility, typically opened in a hurry (ED, no ID card).
            duplicate = register(self._noise, self.citizen, self.config.noise)
            duplicate_id, duplicate_mrn = self.new_id(), self.mrns.next(facility)
            entry.patient_ids.append(duplicate_id)
            self._emit_patient(
                facility, duplicate_id, duplicate_mrn, duplicate, duplicate_of=patient_id
            )
        return entry

    def registration(self, facility: Facility) -> Registration:
        return self.registered[facility.id].registration

    def mrn(self, facility: Facility) -> str:
        return self.registered[facility.id].mrn

    def _emit_patient(
        self,
        facility: Facility,
        patient_id: str,
        mrn: str,
        registration: Registration,
        *,
        duplicate_of: str,
    ) -> None:
        kinds = (*registration.kinds, *(("duplicate_registration",) if duplicate_of else ()))
        self.out.ground_truth.append(
            GroundTruth(patient_id, self.citizen.id, facility.id, mrn, duplicate_of, kinds)
        )
        self.add(patient_resource(self, facility, patient_id, mrn, registration))


def patient_resource(
    history: History,
    facility: Facility,
    patient_id: str,
    mrn: str,
    registration: Registration,
) -> Resource:
    citizen = history.citizen
    identifiers: list[dict[str, Any]] = [
        {
            "use": "usual",
            "type": {"coding": [codes.coding(codes.V2_0203, "MR", "Medical record number")]},
            "system": codes.SID_MRN_PREFIX + facility.code,
            "value": mrn,
        }
    ]
    if registration.rrn:
        identifiers.append(
            {
                "use": "official",
                "type": {
                    "coding": [
                        codes.coding(codes.V2_0203, "NI", "National unique individual identifier")
                    ]
                },
                "system": codes.SID_RRN,
                "value": registration.rrn,
            }
        )
        if facility.org_type in ("01", "11"):  # verified through a mobile identity check
            identifiers.append({"use": "secondary", "system": codes.SID_CI, "value": citizen.ci})
    resource: Resource = {
        "resourceType": "Patient",
        "id": patient_id,
        "identifier": identifiers,
        "active": True,
        "name": [
            {
                "use": "official",
                "text": registration.name,
                "family": registration.surname,
                "given": [registration.given_name],
            }
        ],
        "telecom": [
            {"system": "phone", "value": registration.mobile, "use": "mobile"},
            {"system": "phone", "value": citizen.landline, "use": "home"},
        ],
        "gender": "female" if citizen.female else "male",
        "birthDate": registration.birth_date.isoformat(),
        "address": [address_to_fhir(registration.address)],
        "managingOrganization": {"reference": f"Organization/{facility.id}"},
    }
    if citizen.death_date:
        resource["deceasedDateTime"] = citizen.death_date.isoformat()
    return resource
