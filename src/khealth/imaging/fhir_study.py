"""The FHIR R4 ImagingStudy of a stored DICOM study (http://hl7.org/fhir/R4/imagingstudy.html)
and the platform's DICOMweb Endpoint (MyHealthWay ``myhealthway-endpoint`` pattern).

A study already on record (from a hospital's FHIR feed, or an earlier STOW) is merged, not
replaced: its subject, encounter, body sites and other elements stay; series and instances
are the union of what it lists and what the index holds; our Endpoint is added.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from khealth.imaging.ports import InstanceEntry, SeriesEntry

DICOM_UID_SYSTEM = "urn:dicom:uid"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
ENDPOINT_CONNECTION = "http://terminology.hl7.org/CodeSystem/endpoint-connection-type"
SID_ENDPOINT = "https://khealth.example.org/fhir/sid/endpoint"
DICOMWEB_ENDPOINT_ID = "dicomweb"  # the identifier value of the platform's Endpoint
MODALITY_DISPLAY = {
    "CT": "Computed Tomography", "MR": "Magnetic Resonance", "DX": "Digital Radiography",
    "CR": "Computed Radiography", "US": "Ultrasound", "MG": "Mammography",
    "NM": "Nuclear Medicine", "PT": "Positron emission tomography", "XA": "X-Ray Angiography",
    "RTDOSE": "Radiotherapy Dose", "RTPLAN": "Radiotherapy Plan", "RTSTRUCT": "Radiotherapy Structure Set",
    "SR": "SR Document", "OT": "Other", "ECG": "Electrocardiography", "SC": "Secondary Capture",
}  # fmt: skip


def study_identifier(study_uid: str) -> str:
    """The conditional-request criteria naming a study's ImagingStudy."""
    return f"identifier={DICOM_UID_SYSTEM}|urn:oid:{study_uid}"


def modality_coding(modality: str) -> dict[str, str]:
    coding = {"system": DCM, "code": modality}
    if modality in MODALITY_DISPLAY:
        coding["display"] = MODALITY_DISPLAY[modality]
    return coding


def _fhir_datetime(date: str, time: str) -> str | None:
    if len(date) != 8 or not date.isdigit():
        return None
    day = f"{date[:4]}-{date[4:6]}-{date[6:8]}"
    digits = time.split(".")[0]
    if len(digits) >= 4 and digits.isdigit():
        seconds = digits[4:6] if len(digits) >= 6 else "00"
        # DICOM times carry no zone; the platform's facilities are in Korea (UTC+9).
        return f"{day}T{digits[:2]}:{digits[2:4]}:{seconds}+09:00"
    return day


def _instance(entry: InstanceEntry) -> dict[str, Any]:
    found: dict[str, Any] = {
        "uid": entry.sop_uid,
        "sopClass": {"system": "urn:ietf:rfc:3986", "code": f"urn:oid:{entry.sop_class_uid}"},
    }
    if entry.instance_number is not None and entry.instance_number >= 0:
        found["number"] = entry.instance_number
    return found


def _series(entry: SeriesEntry, instances: Sequence[InstanceEntry]) -> dict[str, Any]:
    found: dict[str, Any] = {"uid": entry.series_uid, "modality": modality_coding(entry.modality)}
    if entry.series_number is not None and entry.series_number >= 0:
        found["number"] = entry.series_number
    found["instance"] = [_instance(i) for i in instances]
    return found


def merge_series(
    existing: list[dict[str, Any]],
    indexed: Sequence[SeriesEntry],
    instances: Sequence[InstanceEntry],
) -> list[dict[str, Any]]:
    """Series of the record plus those of the index; instances likewise, by UID."""
    merged = {s.get("uid"): dict(s) for s in existing if isinstance(s, dict)}
    for entry in indexed:
        own = [i for i in instances if i.series_uid == entry.series_uid]
        built = _series(entry, own)
        current = merged.get(entry.series_uid)
        if current is None:
            merged[entry.series_uid] = built
            continue
        known = {i.get("uid") for i in current.get("instance", [])}
        extra = [i for i in built["instance"] if i["uid"] not in known]
        current["instance"] = [*current.get("instance", []), *extra]
    for series in merged.values():
        series["numberOfInstances"] = len(series.get("instance", []))
    return list(merged.values())


def imaging_study(
    existing: dict[str, Any] | None,
    *,
    study_uid: str,
    patient_id: str,
    endpoint_id: str | None,
    study_attrs: dict[str, Any],
    series: Sequence[SeriesEntry],
    instances: Sequence[InstanceEntry],
) -> dict[str, Any]:
    body: dict[str, Any] = (
        dict(existing) if existing else _new_study(study_uid, patient_id, study_attrs)
    )
    body["series"] = merge_series(list(body.get("series", [])), series, instances)
    body["numberOfSeries"] = len(body["series"])
    body["numberOfInstances"] = sum(s["numberOfInstances"] for s in body["series"])
    codes = {c.get("code"): c for c in body.get("modality", [])}
    for s in body["series"]:
        codes.setdefault(s["modality"].get("code"), s["modality"])
    body["modality"] = list(codes.values())
    if endpoint_id is not None:
        ref = {"reference": f"Endpoint/{endpoint_id}"}
        if ref not in body.get("endpoint", []):
            body["endpoint"] = [*body.get("endpoint", []), ref]
    return body


def _new_study(study_uid: str, patient_id: str, attrs: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "ImagingStudy",
        "identifier": [{"system": DICOM_UID_SYSTEM, "value": f"urn:oid:{study_uid}"}],
        "status": "available",
        "subject": {"reference": f"Patient/{patient_id}"},
    }
    accession = _first(attrs, "00080050")
    if accession:
        body["identifier"].append({
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "ACSN"}]},
            "value": accession,
        })  # fmt: skip
    started = _fhir_datetime(_first(attrs, "00080020"), _first(attrs, "00080030"))
    if started:
        body["started"] = started
    description = _first(attrs, "00081030")
    if description:
        body["description"] = description
    return body


def _first(attrs: dict[str, Any], tag: str) -> str:
    values = attrs.get(tag, {}).get("Value") or [""]
    value = values[0]
    return value.strip() if isinstance(value, str) else ""


def dicomweb_endpoint(address: str) -> dict[str, Any]:
    """The platform's WADO-RS Endpoint; ImagingStudy.endpoint points here."""
    return {
        "resourceType": "Endpoint",
        "identifier": [{"system": SID_ENDPOINT, "value": DICOMWEB_ENDPOINT_ID}],
        "status": "active",
        "connectionType": {"system": ENDPOINT_CONNECTION, "code": "dicom-wado-rs"},
        "name": "khealth DICOMweb (WADO-RS, QIDO-RS, STOW-RS)",
        "payloadType": [{"text": "DICOM"}],
        "payloadMimeType": ["application/dicom"],
        "address": address,
    }
