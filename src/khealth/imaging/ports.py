"""What imaging needs from storage: the DICOM index (``khealth.store.imaging_sql`` on
SQLite/PostgreSQL, ``khealth.store.imaging_memory`` in memory).

The index is derived data (architecture rule 1): one row per study, series and instance with
the attributes QIDO-RS matches and returns, the object name of each instance's file, and the
FHIR ImagingStudy and Patient the study is filed under.  It can be rebuilt from the object
store; the clinical record of a study is its ImagingStudy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class StudyEntry:
    study_uid: str
    patient_id: str  # the FHIR Patient id the ImagingStudy is on
    imaging_study_id: str
    study_date: str  # DICOM DA "YYYYMMDD" or ""
    accession_number: str
    dicom_patient_id: str  # (0010,0020) as sent
    attrs: bytes  # DICOM JSON (UTF-8) of the study's small top-level attributes
    updated: int  # µs


@dataclass(frozen=True, slots=True)
class SeriesEntry:
    study_uid: str
    series_uid: str
    modality: str
    series_number: int | None
    attrs: bytes


@dataclass(frozen=True, slots=True)
class InstanceEntry:
    study_uid: str
    series_uid: str
    sop_uid: str
    sop_class_uid: str
    instance_number: int | None
    transfer_syntax: str
    frames: int
    sha256: str  # the object holding the Part 10 file
    size: int
    attrs: bytes
    stored: int  # µs


@dataclass(frozen=True, slots=True)
class StudySummary:
    modalities: tuple[str, ...]
    series: int
    instances: int


@dataclass(frozen=True, slots=True)
class StudyQuery:
    """QIDO-RS study matching (PS3.18 §8.3.4). Empty tuples and None match anything."""

    patient_ids: tuple[str, ...] = ()  # DICOM PatientID
    fhir_patient: str | None = None  # the compartment of a patient-bound token
    date_from: str | None = None  # inclusive "YYYYMMDD"
    date_to: str | None = None
    modalities: tuple[str, ...] = ()
    study_uids: tuple[str, ...] = ()
    accession_numbers: tuple[str, ...] = ()
    limit: int = 100
    offset: int = 0


class DicomIndex(Protocol):
    def add(self, study: StudyEntry, series: SeriesEntry, instance: InstanceEntry) -> bool:
        """Index one instance (adding its study and series rows when new); False, and
        nothing changed, when the SOP instance is already indexed."""
        ...

    def instance(self, sop_uid: str) -> InstanceEntry | None: ...

    def study(self, study_uid: str) -> StudyEntry | None: ...

    def series_of(self, study_uid: str) -> list[SeriesEntry]: ...

    def instances_of(self, study_uid: str, series_uid: str | None = None) -> list[InstanceEntry]:
        """Ordered by series, instance number, SOP instance UID."""
        ...

    def find_studies(self, query: StudyQuery) -> list[StudyEntry]:
        """Matches ordered by study date (newest first), then UID; ``limit``/``offset``."""
        ...

    def summaries(self, study_uids: Sequence[str]) -> dict[str, StudySummary]: ...
