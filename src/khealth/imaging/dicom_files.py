"""Reading a DICOM Part 10 file into what the index and the ImagingStudy need.

pydicom reads the header only (``stop_before_pixels``); the file's bytes are stored as they
came, so WADO-RS returns them byte for byte.  Per level (study, series, instance) the small
top-level attributes are kept as DICOM JSON (PS3.18 Annex F) for QIDO-RS answers.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass
from typing import Any

import orjson
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

# Attributes returned by default at each QIDO-RS level (PS3.18 Table 6.7.1-2a, -2, -3).
STUDY_KEYWORDS = (
    "StudyDate", "StudyTime", "AccessionNumber", "ReferringPhysicianName", "PatientName",
    "PatientID", "IssuerOfPatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID",
    "StudyID", "StudyDescription", "InstitutionName",
)  # fmt: skip
SERIES_KEYWORDS = (
    "Modality", "SeriesInstanceUID", "SeriesNumber", "SeriesDescription", "BodyPartExamined",
    "SeriesDate", "SeriesTime", "PerformedProcedureStepStartDate",
)  # fmt: skip
INSTANCE_KEYWORDS = (
    "SOPClassUID", "SOPInstanceUID", "InstanceNumber", "Rows", "Columns", "BitsAllocated",
    "NumberOfFrames", "PhotometricInterpretation",
)  # fmt: skip
_STUDY_GROUPS = (0x0010,)  # the patient module belongs to the study level
_SERIES_EXTRA = frozenset({0x00080060, 0x00180015, 0x0020000E, 0x00200011})
_BULK_VRS = frozenset({"OB", "OW", "OF", "OD", "OL", "OV", "UN", "SQ"})
_MAX_INLINE = 1024  # longer values are left to WADO-RS metadata
_CHARSET = 0x00080005  # JSON is UTF-8: the character set does not travel

# A Korean resident registration number: YYMMDD, then G (sex/century) and six digits.
_RRN = re.compile(r"^\s*(\d{2})(\d{2})(\d{2})-?([0-9])(\d{6})\s*$")


class UnreadableInstance(Exception):
    """Not a DICOM Part 10 file, or one without the UIDs a store needs."""


@dataclass(frozen=True, slots=True)
class ParsedInstance:
    sop_class_uid: str
    sop_uid: str
    series_uid: str
    study_uid: str
    transfer_syntax: str
    modality: str
    study_date: str
    accession_number: str
    patient_id: str
    issuer: str | None  # IssuerOfPatientID or the qualifiers' universal entity id
    birth_date: str | None  # FHIR date
    sex: str | None  # FHIR gender
    series_number: int | None
    instance_number: int | None
    frames: int
    study_attrs: bytes
    series_attrs: bytes
    instance_attrs: bytes
    header: Dataset


def looks_like_resident_number(value: str) -> bool:
    """A value shaped like a resident registration number (a valid YYMMDD and 7 digits):
    such a PatientID must not be stored, whatever its check digit (numbers issued since
    October 2020 have none)."""
    match = _RRN.match(value)
    if match is None:
        return False
    _, month, day, _, _ = match.groups()
    return 1 <= int(month) <= 12 and 1 <= int(day) <= 31


def parse_instance(data: bytes) -> ParsedInstance:
    try:
        ds = dcmread(io.BytesIO(data), stop_before_pixels=True)
    except (InvalidDicomError, EOFError, ValueError, TypeError, KeyError, OSError):
        raise UnreadableInstance("the part is not a DICOM Part 10 file") from None
    try:
        return _parsed(ds)
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        if isinstance(error, UnreadableInstance):
            raise
        raise UnreadableInstance("the DICOM header could not be read") from None


def _text(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword)
    return "" if value is None else str(value).strip()


def _integer(ds: Dataset, keyword: str) -> int | None:
    value = ds.get(keyword)
    try:
        return None if value in (None, "") else int(value)
    except (TypeError, ValueError):
        return None


def _parsed(ds: Dataset) -> ParsedInstance:
    uids = {k: _text(ds, k) for k in ("SOPClassUID", "SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID")}  # fmt: skip
    missing = [k for k, v in uids.items() if not v]
    if missing:
        raise UnreadableInstance(f"the DICOM header lacks {', '.join(missing)}")
    meta = getattr(ds, "file_meta", None)
    syntax = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
    study, series, instance = _level_attrs(ds)
    return ParsedInstance(
        sop_class_uid=uids["SOPClassUID"], sop_uid=uids["SOPInstanceUID"],
        series_uid=uids["SeriesInstanceUID"], study_uid=uids["StudyInstanceUID"],
        transfer_syntax=syntax or "1.2.840.10008.1.2", modality=_text(ds, "Modality") or "OT",
        study_date=_text(ds, "StudyDate")[:8], accession_number=_text(ds, "AccessionNumber"),
        patient_id=_text(ds, "PatientID"), issuer=_issuer(ds),
        birth_date=_fhir_date(_text(ds, "PatientBirthDate")), sex=_gender(_text(ds, "PatientSex")),
        series_number=_integer(ds, "SeriesNumber"), instance_number=_integer(ds, "InstanceNumber"),
        frames=_integer(ds, "NumberOfFrames") or 1,
        study_attrs=study, series_attrs=series, instance_attrs=instance, header=ds,
    )  # fmt: skip


def _issuer(ds: Dataset) -> str | None:
    qualifiers = ds.get("IssuerOfPatientIDQualifiersSequence")
    if qualifiers:
        item = qualifiers[0]
        entity = str(item.get("UniversalEntityID", "")).strip()
        kind = str(item.get("UniversalEntityIDType", "")).strip().upper()
        if entity:
            return f"urn:oid:{entity}" if kind == "ISO" else entity
    issuer = _text(ds, "IssuerOfPatientID")
    return issuer or None


def _fhir_date(value: str) -> str | None:
    try:
        return dt.datetime.strptime(value[:8], "%Y%m%d").date().isoformat()
    except ValueError:
        return None


def _gender(value: str) -> str | None:
    return {"M": "male", "F": "female", "O": "other"}.get(value.upper())


def _level_attrs(ds: Dataset) -> tuple[bytes, bytes, bytes]:
    """Small top-level attributes split by level: patient and study module to the study,
    the series module to the series, the rest to the instance."""
    levels: tuple[dict[str, Any], dict[str, Any], dict[str, Any]] = ({}, {}, {})
    for element in ds:
        tag = int(element.tag)
        if tag == _CHARSET or element.VR in _BULK_VRS or element.tag.is_private:
            continue
        keyword = element.keyword
        if keyword in STUDY_KEYWORDS or element.tag.group in _STUDY_GROUPS:
            target = levels[0]
        elif keyword in SERIES_KEYWORDS or tag in _SERIES_EXTRA:
            target = levels[1]
        else:
            target = levels[2]
        single = Dataset()
        single.add(element)
        try:
            encoded = single.to_json_dict(bulk_data_threshold=_MAX_INLINE)
        except (ValueError, TypeError, KeyError):
            continue  # a malformed value is left out of the index, not fatal
        value = encoded.get(f"{tag:08X}")
        if value is not None and "BulkDataURI" not in value and "InlineBinary" not in value:
            target[f"{tag:08X}"] = value
    return tuple(orjson.dumps(level) for level in levels)  # type: ignore[return-value]
