"""The DICOM index (``DicomIndex`` of ``khealth.imaging.ports``) on SQLite / PostgreSQL.

Each call is a short transaction of its own: index rows are derived data, written after the
ImagingStudy they belong to has committed (see ``khealth.imaging.stow``).  Inserts use
``ON CONFLICT DO NOTHING`` so that two stores of one instance index it once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, Select, exists, func, select
from sqlalchemy.dialects import postgresql, sqlite

from khealth.imaging.ports import (
    InstanceEntry,
    SeriesEntry,
    StudyEntry,
    StudyQuery,
    StudySummary,
)
from khealth.store.schema import dicom_instance, dicom_series, dicom_study


def _study(row: Any) -> StudyEntry:
    return StudyEntry(
        row.study_uid, row.patient_id, row.imaging_study_id, row.study_date,
        row.accession_number, row.dicom_patient_id, bytes(row.attrs), row.updated,
    )  # fmt: skip


def _series(row: Any) -> SeriesEntry:
    return SeriesEntry(row.study_uid, row.series_uid, row.modality, row.series_number, bytes(row.attrs))  # fmt: skip


def _instance(row: Any) -> InstanceEntry:
    return InstanceEntry(
        row.study_uid, row.series_uid, row.sop_uid, row.sop_class_uid, row.instance_number,
        row.transfer_syntax, row.frames, row.sha256, row.size, bytes(row.attrs), row.stored,
    )  # fmt: skip


def _values(entry: Any) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in entry.__slots__}


class SqlDicomIndex:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def add(self, study: StudyEntry, series: SeriesEntry, instance: InstanceEntry) -> bool:
        with self.engine.begin() as conn:
            conn.execute(self._insert(dicom_study).values(_values(study)).on_conflict_do_nothing())
            conn.execute(
                self._insert(dicom_series).values(_values(series)).on_conflict_do_nothing()
            )
            added = conn.execute(
                self._insert(dicom_instance).values(_values(instance)).on_conflict_do_nothing()
            ).rowcount
        return bool(added)

    def instance(self, sop_uid: str) -> InstanceEntry | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(dicom_instance).where(dicom_instance.c.sop_uid == sop_uid)).first()  # fmt: skip
        return _instance(row) if row is not None else None

    def study(self, study_uid: str) -> StudyEntry | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(dicom_study).where(dicom_study.c.study_uid == study_uid)).first()  # fmt: skip
        return _study(row) if row is not None else None

    def series_of(self, study_uid: str) -> list[SeriesEntry]:
        stmt = (
            select(dicom_series)
            .where(dicom_series.c.study_uid == study_uid)
            .order_by(dicom_series.c.series_number, dicom_series.c.series_uid)
        )
        with self.engine.connect() as conn:
            return [_series(row) for row in conn.execute(stmt)]

    def instances_of(self, study_uid: str, series_uid: str | None = None) -> list[InstanceEntry]:
        i = dicom_instance.c
        stmt = select(dicom_instance).where(i.study_uid == study_uid)
        if series_uid is not None:
            stmt = stmt.where(i.series_uid == series_uid)
        stmt = stmt.order_by(i.series_uid, i.instance_number, i.sop_uid)
        with self.engine.connect() as conn:
            return [_instance(row) for row in conn.execute(stmt)]

    def find_studies(self, query: StudyQuery) -> list[StudyEntry]:
        stmt = _matching(select(dicom_study), query)
        stmt = stmt.order_by(dicom_study.c.study_date.desc(), dicom_study.c.study_uid)
        stmt = stmt.limit(query.limit).offset(query.offset)
        with self.engine.connect() as conn:
            return [_study(row) for row in conn.execute(stmt)]

    def summaries(self, study_uids: Sequence[str]) -> dict[str, StudySummary]:
        uids = list(study_uids)
        if not uids:
            return {}
        s, i = dicom_series.c, dicom_instance.c
        with self.engine.connect() as conn:
            modality_rows = conn.execute(
                select(s.study_uid, s.modality, func.count()).where(s.study_uid.in_(uids))
                .group_by(s.study_uid, s.modality)
            ).all()  # fmt: skip
            instance_rows = conn.execute(
                select(i.study_uid, func.count()).where(i.study_uid.in_(uids)).group_by(i.study_uid)
            ).all()
        modalities: dict[str, list[str]] = {uid: [] for uid in uids}
        series: dict[str, int] = dict.fromkeys(uids, 0)
        for uid, modality, count in modality_rows:
            modalities[uid].append(modality)
            series[uid] += int(count)
        instances = {uid: int(count) for uid, count in instance_rows}
        return {
            uid: StudySummary(tuple(sorted(modalities[uid])), series[uid], instances.get(uid, 0))
            for uid in uids
        }


def _matching(stmt: Select[Any], query: StudyQuery) -> Select[Any]:
    c = dicom_study.c
    if query.patient_ids:
        stmt = stmt.where(c.dicom_patient_id.in_(query.patient_ids))
    if query.fhir_patient is not None:
        stmt = stmt.where(c.patient_id == query.fhir_patient)
    if query.date_from is not None or query.date_to is not None:
        stmt = stmt.where(c.study_date != "")
    if query.date_from is not None:
        stmt = stmt.where(c.study_date >= query.date_from)
    if query.date_to is not None:
        stmt = stmt.where(c.study_date <= query.date_to)
    if query.study_uids:
        stmt = stmt.where(c.study_uid.in_(query.study_uids))
    if query.accession_numbers:
        stmt = stmt.where(c.accession_number.in_(query.accession_numbers))
    if query.modalities:
        s = dicom_series.c
        stmt = stmt.where(
            exists().where(s.study_uid == c.study_uid, s.modality.in_(query.modalities))
        )
    return stmt
