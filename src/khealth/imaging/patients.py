"""Which Patient a DICOM study belongs to.

DICOM names a patient by PatientID (0010,0020) within an issuer: IssuerOfPatientID
(0010,0021) or the Issuer of Patient ID Qualifiers' universal entity id.  On the platform a
facility Patient carries its record number under ``…/sid/mrn/<요양기관기호>``, so:

1. an issuer that is a URI or OID URN is the identifier system itself;
2. any other issuer is taken as the facility code: ``…/sid/mrn/<issuer>``;
3. with no issuer, the caller's facility (its token's ``facility``, an Organization whose
   ``…/sid/hira-facility-code`` identifier gives the code) supplies the system;
4. failing that, a Patient is matched on the PatientID value alone, and only when exactly
   one Patient carries it and its birth date and sex agree with the DICOM header.

No Patient is created from a DICOM header: an unmatched study is refused (the facility
registers the patient by FHIR or HL7 ADT first), because a header-made identity would be a
weak duplicate for the MPI to untangle, and a misfiled image is a safety risk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from khealth.core.errors import Gone, NotFound
from khealth.fhir.search_parse import parse_search
from khealth.imaging.dicom_files import ParsedInstance
from khealth.records.service import RecordSession, load_json

SID = "https://khealth.example.org/fhir/sid/"
MRN_PREFIX = SID + "mrn/"
SID_HIRA_FACILITY = SID + "hira-facility-code"
_NOT_RECORD_NUMBERS = (SID + "kr-rrn", SID + "kr-ci")


@dataclass(frozen=True, slots=True)
class PatientMatch:
    patient_id: str | None
    reason: str = ""  # why there is none (no identifiers or values in it)


def issuer_system(issuer: str) -> str:
    if issuer.startswith(("http://", "https://", "urn:")):
        return issuer
    return MRN_PREFIX + issuer.strip()


def facility_system(rs: RecordSession, facility_id: str | None) -> str | None:
    """The record-number system of the caller's facility, if it is on record."""
    if not facility_id:
        return None
    try:
        organization = load_json(rs.read("Organization", facility_id).content)
    except (NotFound, Gone):
        return None
    for identifier in organization.get("identifier", []):
        if identifier.get("system") == SID_HIRA_FACILITY and identifier.get("value"):
            return MRN_PREFIX + str(identifier["value"])
    return None


def find_patient(rs: RecordSession, parsed: ParsedInstance, fallback: str | None) -> PatientMatch:
    if not parsed.patient_id:
        return PatientMatch(None, "the instance has no PatientID")
    system = issuer_system(parsed.issuer) if parsed.issuer else fallback
    if system is not None:
        found = _search(rs, f"{system}|{parsed.patient_id}", 2)
        if len(found) == 1:
            return PatientMatch(str(found[0]["id"]))
        if found:
            return PatientMatch(None, "PatientID and issuer match more than one Patient")
        return PatientMatch(None, "no Patient carries this PatientID under its issuer")
    return _by_value_alone(rs, parsed)


def _by_value_alone(rs: RecordSession, parsed: ParsedInstance) -> PatientMatch:
    found = [
        p for p in _search(rs, parsed.patient_id, 20)
        if _record_number_matches(p, parsed.patient_id) and _demographics_agree(p, parsed)
    ]  # fmt: skip
    if len(found) == 1:
        return PatientMatch(str(found[0]["id"]))
    reason = "matches more than one Patient" if found else "matches no Patient"
    return PatientMatch(None, f"no IssuerOfPatientID, and the PatientID alone {reason}")


def _search(rs: RecordSession, token: str, count: int) -> list[dict[str, Any]]:
    query = parse_search("Patient", [("identifier", token), ("_count", str(count))])
    return [load_json(v.content) for v in rs.search(query).page.matches]


def _record_number_matches(patient: dict[str, Any], value: str) -> bool:
    return any(
        i.get("value") == value and i.get("system") not in _NOT_RECORD_NUMBERS
        for i in patient.get("identifier", [])
    )


def _demographics_agree(patient: dict[str, Any], parsed: ParsedInstance) -> bool:
    if parsed.birth_date and patient.get("birthDate") != parsed.birth_date:
        return False
    return not (parsed.sex in ("male", "female") and patient.get("gender") != parsed.sex)
