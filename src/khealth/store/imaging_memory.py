"""The DICOM index in memory: the reference twin of ``imaging_sql`` (same ordering and
matching), used with the in-memory record store."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from khealth.imaging.ports import (
    InstanceEntry,
    SeriesEntry,
    StudyEntry,
    StudyQuery,
    StudySummary,
)


def _matches(study: StudyEntry, query: StudyQuery, modalities: set[str]) -> bool:
    dated = query.date_from is not None or query.date_to is not None
    return all([
        not query.patient_ids or study.dicom_patient_id in query.patient_ids,
        query.fhir_patient is None or study.patient_id == query.fhir_patient,
        not dated or study.study_date != "",
        query.date_from is None or study.study_date >= query.date_from,
        query.date_to is None or study.study_date <= query.date_to,
        not query.study_uids or study.study_uid in query.study_uids,
        not query.accession_numbers or study.accession_number in query.accession_numbers,
        not query.modalities or bool(modalities & set(query.modalities)),
    ])  # fmt: skip


class MemoryDicomIndex:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.studies: dict[str, StudyEntry] = {}
        self.series: dict[str, SeriesEntry] = {}
        self.instances: dict[str, InstanceEntry] = {}

    def add(self, study: StudyEntry, series: SeriesEntry, instance: InstanceEntry) -> bool:
        with self._lock:
            self.studies.setdefault(study.study_uid, study)
            self.series.setdefault(series.series_uid, series)
            if instance.sop_uid in self.instances:
                return False
            self.instances[instance.sop_uid] = instance
            return True

    def instance(self, sop_uid: str) -> InstanceEntry | None:
        return self.instances.get(sop_uid)

    def study(self, study_uid: str) -> StudyEntry | None:
        return self.studies.get(study_uid)

    def series_of(self, study_uid: str) -> list[SeriesEntry]:
        found = [s for s in self.series.values() if s.study_uid == study_uid]
        # SQL sorts NULL series numbers first on SQLite and last on PostgreSQL; use -1 here.
        return sorted(found, key=lambda s: (-1 if s.series_number is None else s.series_number, s.series_uid))  # fmt: skip

    def instances_of(self, study_uid: str, series_uid: str | None = None) -> list[InstanceEntry]:
        found = [
            i for i in self.instances.values()
            if i.study_uid == study_uid and (series_uid is None or i.series_uid == series_uid)
        ]  # fmt: skip
        return sorted(found, key=lambda i: (i.series_uid, -1 if i.instance_number is None else i.instance_number, i.sop_uid))  # fmt: skip

    def _modalities(self, study_uid: str) -> set[str]:
        return {s.modality for s in self.series.values() if s.study_uid == study_uid}

    def find_studies(self, query: StudyQuery) -> list[StudyEntry]:
        found = [s for s in self.studies.values() if _matches(s, query, self._modalities(s.study_uid))]  # fmt: skip
        found.sort(key=lambda s: s.study_uid)
        found.sort(key=lambda s: s.study_date, reverse=True)
        return found[query.offset : query.offset + query.limit]

    def summaries(self, study_uids: Sequence[str]) -> dict[str, StudySummary]:
        result = {}
        for uid in study_uids:
            series = [s for s in self.series.values() if s.study_uid == uid]
            count = sum(1 for i in self.instances.values() if i.study_uid == uid)
            result[uid] = StudySummary(tuple(sorted({s.modality for s in series})), len(series), count)  # fmt: skip
        return result
