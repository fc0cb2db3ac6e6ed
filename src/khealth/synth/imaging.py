"""ImagingStudy resources, and the jobs from which `dicom.py` writes real DICOM files."""

from __future__ import annotations

from khealth.synth import codes
from khealth.synth.clinical_resources import instant, ref
from khealth.synth.history import History, ImagingJob
from khealth.synth.visits import Visit

SOP_CLASSES = {
    "CT": "1.2.840.10008.5.1.4.1.1.2",  # CT Image Storage
    "MR": "1.2.840.10008.5.1.4.1.1.4",  # MR Image Storage
    "DX": "1.2.840.10008.5.1.4.1.1.1.1",  # Digital X-Ray Image Storage - For Presentation
    "US": "1.2.840.10008.5.1.4.1.1.6.1",  # Ultrasound Image Storage
}
MODALITY_DISPLAY = {
    "CT": "Computed Tomography",
    "MR": "Magnetic Resonance",
    "DX": "Digital Radiography",
    "US": "Ultrasound",
}
INSTANCES = {"CT": 4, "MR": 3, "DX": 1, "US": 1}
BODY_SITES = {
    "HEAD": ("69536005", "Head structure"),
    "BRAIN": ("12738006", "Brain structure"),
    "CHEST": ("51185008", "Thoracic structure"),
    "ABDOMEN": ("113345001", "Abdominal structure"),
    "KNEE": ("72696002", "Knee region structure"),
    "THYROID": ("69748006", "Thyroid structure"),
    "LIVER": ("10200004", "Liver structure"),
}


def _uid(history: History) -> str:
    # UUID-derived OID (ISO/IEC 9834-8, root 2.25): unique without a registered root.
    return f"2.25.{history.rng.getrandbits(122)}"


def imaging_study(history: History, visit: Visit, modality: str, body_part: str) -> None:
    study_uid, series_uid = _uid(history), _uid(history)
    instance_uids = tuple(_uid(history) for _ in range(INSTANCES[modality]))
    site_code, site_display = BODY_SITES[body_part]
    accession = f"A{visit.start.strftime('%y%m%d')}{history.rng.randint(0, 99999):05d}"
    resource = {
        "resourceType": "ImagingStudy",
        "id": history.new_id(),
        "identifier": [
            {"system": "urn:dicom:uid", "value": f"urn:oid:{study_uid}"},
            {"type": {"coding": [codes.coding(codes.V2_0203, "ACSN")]}, "value": accession},
        ],
        "status": "available",
        "modality": [codes.coding(codes.DICOM_DCM, modality, MODALITY_DISPLAY[modality])],
        "subject": ref("Patient", visit.patient),
        "encounter": ref("Encounter", visit.encounter_id),
        "started": instant(visit.start),
        "numberOfSeries": 1,
        "numberOfInstances": len(instance_uids),
        "series": [
            {
                "uid": series_uid,
                "number": 1,
                "modality": codes.coding(codes.DICOM_DCM, modality, MODALITY_DISPLAY[modality]),
                "numberOfInstances": len(instance_uids),
                "bodySite": codes.coding(codes.SNOMED, site_code, site_display),
                "instance": [
                    {
                        "uid": uid,
                        "sopClass": codes.coding(
                            "urn:ietf:rfc:3986", f"urn:oid:{SOP_CLASSES[modality]}"
                        ),
                        "number": number + 1,
                    }
                    for number, uid in enumerate(instance_uids)
                ],
            }
        ],
    }
    if visit.facility.ct or visit.facility.mri:
        resource["endpoint"] = [ref("Endpoint", f"{visit.facility.id}-ep-dicomweb")]
    history.add(resource)
    registration = history.registration(visit.facility)
    history.out.imaging.append(
        ImagingJob(
            study_uid,
            series_uid,
            instance_uids,
            modality,
            body_part,
            visit.patient,
            history.mrn(visit.facility),
            registration.name,
            registration.birth_date,
            history.citizen.female,
            visit.start,
            visit.facility.name,
            accession,
        )
    )
