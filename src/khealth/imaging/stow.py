"""STOW-RS: storing DICOM instances (PS3.18 §10.5) and filing each study as a FHIR
ImagingStudy on its Patient.

Order of work, so that a failure at any point leaves nothing that claims more than exists:

1. every part is read (header only); unreadable parts and instances that break a rule fail
   alone, with a reason;
2. the files go to the content-addressed object store (idempotent; an object nobody
   indexes is garbage, never a wrong answer);
3. the dicomweb service identity finds each study's Patient and any ImagingStudy already on
   record, and makes sure the platform's Endpoint exists (its own audited session);
4. under the *caller's* AccessContext, in one record session (one transaction, one audit
   event), each study's ImagingStudy is created or merged — so the caller's scopes and
   patient compartment decide, through the one door;
5. only after that commit are the instances added to the DICOM index that QIDO and WADO
   read.  A crash between 4 and 5 leaves an ImagingStudy listing instances WADO cannot
   serve yet; sending the study again repairs it (step 5 is idempotent).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson

from khealth.access import policy
from khealth.access.context import AccessContext, Role
from khealth.access.scopes import parse_scopes
from khealth.core.errors import Forbidden, KhealthError, NotFound
from khealth.fhir.search_parse import parse_search
from khealth.imaging import model
from khealth.imaging.dicom_files import (
    ParsedInstance,
    UnreadableInstance,
    looks_like_resident_number,
    parse_instance,
)
from khealth.imaging.fhir_study import (
    DICOMWEB_ENDPOINT_ID,
    SID_ENDPOINT,
    dicomweb_endpoint,
    imaging_study,
    study_identifier,
)
from khealth.imaging.objectstore import ObjectStore
from khealth.imaging.patients import facility_system, find_patient
from khealth.imaging.ports import DicomIndex, InstanceEntry, SeriesEntry, StudyEntry
from khealth.records.service import Records, RecordSession, load_json

#: The platform's own identity for the lookups a store needs (Patient matching, the
#: Endpoint): audited under this subject, never lent to the caller.
DICOMWEB_SERVICE = AccessContext(
    subject="dicomweb",
    role=Role.SERVICE,
    scopes=parse_scopes(
        "system/Patient.rs system/Organization.r system/ImagingStudy.rs system/Endpoint.crus"
    ),
)


@dataclass(slots=True)
class _Study:
    """The instances of one study in this request, and what step 3 found for it."""

    uid: str
    instances: list[tuple[int, ParsedInstance, str, int]] = field(default_factory=list)
    indexed: StudyEntry | None = None
    indexed_series: list[SeriesEntry] = field(default_factory=list)
    indexed_instances: list[InstanceEntry] = field(default_factory=list)
    patient_id: str | None = None
    existing: dict[str, Any] | None = None
    refusal: str = ""
    imaging_study_id: str = ""


class StudyLocks:
    """One lock per study UID in this process: two stores of one study merge in turn."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    @contextmanager
    def hold(self, uids: Sequence[str]) -> Iterator[None]:
        with self._guard:
            locks = [self._locks.setdefault(uid, threading.Lock()) for uid in sorted(set(uids))]
        for lock in locks:
            lock.acquire()
        try:
            yield
        finally:
            for lock in reversed(locks):
                lock.release()


#: One set of study locks per process, shared by every StudyStore in it (the web app's
#: STOW-RS and the C-STORE listener of ``khealth serve --dicom-port``).
PROCESS_LOCKS = StudyLocks()


@dataclass(slots=True)
class Stream:
    """What a stream of single-instance stores (one C-STORE association) has filed: the
    studies whose ImagingStudy it wrote, and those with instances indexed since, whose
    ImagingStudy :meth:`StudyStore.file_pending` brings up to date in one version."""

    filed: set[str] = field(default_factory=set)
    pending: set[str] = field(default_factory=set)
    deferred: int = 0  # instances indexed since the last file_pending


class StudyStore:
    def __init__(
        self, records: Records, index: DicomIndex, objects: ObjectStore, now: Callable[[], int]
    ) -> None:
        self.records = records
        self.index = index
        self.objects = objects
        self.now = now
        self.locks = PROCESS_LOCKS

    def store(
        self,
        ctx: AccessContext,
        parts: Sequence[bytes],
        study_uid: str | None,
        endpoint_address: str,
    ) -> model.StoreOutcome:
        self._require_create(ctx)
        outcome = model.StoreOutcome()
        studies = self._read_parts(parts, study_uid, outcome)
        self._store_studies(ctx, studies, endpoint_address, outcome)
        return outcome

    def _require_create(self, ctx: AccessContext) -> None:
        if not ctx.can("ImagingStudy", "c"):
            with self.records.begin(ctx, "create"):
                policy.require(ctx, "ImagingStudy", "create")  # audited, then 403

    def _store_studies(
        self, ctx: AccessContext, studies: dict[str, _Study], endpoint_address: str,
        outcome: model.StoreOutcome,
    ) -> None:  # fmt: skip
        with self.locks.hold(list(studies)):
            self._read_index(studies)
            endpoint_id = self._prepare(ctx, studies, endpoint_address)
            self._file(ctx, studies, endpoint_id, outcome)
            self._index(studies, outcome)

    # -- a stream of single instances (C-STORE) --------------------------------------------
    def store_in_stream(
        self, ctx: AccessContext, data: bytes, endpoint_address: str, stream: Stream
    ) -> model.StoreOutcome:
        """One instance of a stream that sends a study one instance at a time.  The first
        instance of each study is stored as by :meth:`store` (Patient matched, ImagingStudy
        created or merged under ``ctx``).  Later ones are kept and indexed under that
        ImagingStudy, which is read through the record service for each (``ctx`` must
        still see it; audited) but not rewritten: :meth:`file_pending` adds them to it in
        one version, so a study of n instances is not n versions listing up to n each."""
        self._require_create(ctx)
        outcome = model.StoreOutcome()
        studies = self._read_parts([data], None, outcome)
        for uid, study in studies.items():
            if uid in stream.filed and self._index_only(ctx, study, outcome):
                if study.instances:
                    stream.pending.add(uid)
                    stream.deferred += 1
                continue
            self._store_studies(ctx, {uid: study}, endpoint_address, outcome)
            if study.instances:
                stream.filed.add(uid)
        return outcome

    def _index_only(self, ctx: AccessContext, study: _Study, outcome: model.StoreOutcome) -> bool:
        """Index an instance of a study this stream filed; False when the study must take
        the full path after all (its ImagingStudy is gone)."""
        with self.locks.hold([study.uid]):
            indexed = study.indexed = self.index.study(study.uid)
            if indexed is None:
                return False
            try:
                with self.records.begin(ctx, "update") as rs:
                    rs.read("ImagingStudy", indexed.imaging_study_id)
            except Forbidden:
                self._fail(study, model.NOT_AUTHORIZED, "the sender may not file this study", outcome)  # fmt: skip
                return True
            except NotFound:
                return False
            study.patient_id = indexed.patient_id
            study.imaging_study_id = indexed.imaging_study_id
            self._check_patient(study)
            if study.refusal:
                self._fail(study, model.PROCESSING_FAILURE, study.refusal, outcome)
                return True
            self._index({study.uid: study}, outcome)
        return True

    def file_pending(self, ctx: AccessContext, stream: Stream) -> list[str]:
        """Write each pending study's ImagingStudy once, from the index (one new version
        per study, none when nothing changed).  Returns the studies that could not be
        filed; storing any of their instances again repairs them."""
        failed: list[str] = []
        for uid in sorted(stream.pending):
            with self.locks.hold([uid]):
                indexed = self.index.study(uid)
                if indexed is None:
                    continue
                series, instances = self.index.series_of(uid), self.index.instances_of(uid)
                try:
                    with self.records.begin(ctx, "update") as rs:
                        current = load_json(rs.read("ImagingStudy", indexed.imaging_study_id).content)  # fmt: skip
                        body = imaging_study(
                            current, study_uid=uid, patient_id=indexed.patient_id,
                            endpoint_id=None, study_attrs=orjson.loads(indexed.attrs),
                            series=series, instances=instances,
                        )  # fmt: skip
                        rs.update("ImagingStudy", indexed.imaging_study_id, body)
                except KhealthError:
                    failed.append(uid)
        stream.pending.clear()
        stream.deferred = 0
        return failed

    # -- 1 and 2: read the parts, keep the files ------------------------------------------
    def _read_parts(
        self, parts: Sequence[bytes], study_uid: str | None, outcome: model.StoreOutcome
    ) -> dict[str, _Study]:
        studies: dict[str, _Study] = {}
        seen: dict[str, str] = {}
        for number, data in enumerate(parts, start=1):
            try:
                parsed = parse_instance(data)
            except UnreadableInstance as error:
                outcome.failed.append(model.FailedInstance(None, None, model.CANNOT_UNDERSTAND, str(error), number))  # fmt: skip
                continue
            problem = _rule_broken(parsed, study_uid)
            sha = self.objects.put(data) if problem is None else ""
            if problem is None:
                problem = self._duplicate_problem(parsed, sha, seen)
            if problem is not None:
                code, reason = problem
                outcome.failed.append(model.FailedInstance(parsed.sop_class_uid, parsed.sop_uid, code, reason, number))  # fmt: skip
                continue
            seen[parsed.sop_uid] = sha
            study = studies.setdefault(parsed.study_uid, _Study(parsed.study_uid))
            study.instances.append((number, parsed, sha, len(data)))
        return studies

    def _duplicate_problem(
        self, parsed: ParsedInstance, sha: str, seen: dict[str, str]
    ) -> tuple[int, str] | None:
        known = self.index.instance(parsed.sop_uid)
        earlier = seen.get(parsed.sop_uid) or (known.sha256 if known else None)
        if earlier is None or (earlier == sha and (known is None or known.study_uid == parsed.study_uid)):  # fmt: skip
            return None
        return model.DUPLICATE_INSTANCE, "an instance with this SOP Instance UID and other content is stored"  # fmt: skip

    def _read_index(self, studies: dict[str, _Study]) -> None:
        # Before any record session: on SQLite a second connection cannot begin while a
        # record session holds the write lock.
        for study in studies.values():
            study.indexed = self.index.study(study.uid)
            study.indexed_series = self.index.series_of(study.uid)
            study.indexed_instances = self.index.instances_of(study.uid)

    # -- 3: the Patient, the record, the Endpoint (service identity) ----------------------
    def _prepare(self, ctx: AccessContext, studies: dict[str, _Study], address: str) -> str | None:
        if not studies:
            return None
        with self.records.begin(DICOMWEB_SERVICE, "create") as rs:
            fallback = facility_system(rs, ctx.facility)
            for study in studies.values():
                self._match(rs, study, fallback)
            return _endpoint(rs, address)

    def _match(self, rs: RecordSession, study: _Study, fallback: str | None) -> None:
        first = study.instances[0][1]
        if study.indexed is not None:
            study.patient_id = study.indexed.patient_id
            self._check_patient(study)
        else:
            match = find_patient(rs, first, fallback)
            study.patient_id, study.refusal = match.patient_id, match.reason
        found = rs.search(parse_search("ImagingStudy", [*_pairs(study_identifier(study.uid)), ("_count", "2")]))  # fmt: skip
        if found.page.matches:
            study.existing = load_json(found.page.matches[0].content)
            subject = study.existing.get("subject", {}).get("reference")
            if subject and study.patient_id and subject != f"Patient/{study.patient_id}":
                study.refusal = "the study is on record under another Patient"

    @staticmethod
    def _check_patient(study: _Study) -> None:
        """Every instance of a study on record must name the PatientID it was filed with:
        a study UID reused for another patient must not land in the first one's record."""
        assert study.indexed is not None
        if any(p.patient_id != study.indexed.dicom_patient_id for _, p, _, _ in study.instances):
            study.refusal = "the study is on record with another PatientID"

    # -- 4: the ImagingStudy, under the caller's AccessContext ----------------------------
    def _file(
        self, ctx: AccessContext, studies: dict[str, _Study], endpoint_id: str | None,
        outcome: model.StoreOutcome,
    ) -> None:  # fmt: skip
        with self.records.begin(ctx, "create") as rs:
            for study in studies.values():
                if study.refusal or study.patient_id is None:
                    self._fail(
                        study, model.PROCESSING_FAILURE, study.refusal or "no Patient", outcome
                    )
                    continue
                try:
                    written = rs.conditional_update("ImagingStudy", study_identifier(study.uid), self._resource(study, endpoint_id))  # fmt: skip
                except Forbidden:
                    self._fail(study, model.NOT_AUTHORIZED, "the token may not file this study", outcome)  # fmt: skip
                    continue
                except KhealthError:
                    self._fail(study, model.PROCESSING_FAILURE, "the ImagingStudy could not be written", outcome)  # fmt: skip
                    continue
                study.imaging_study_id = written.stored.id

    def _resource(self, study: _Study, endpoint_id: str | None) -> dict[str, Any]:
        series, instances = self._entries(study)
        first = study.instances[0][1]
        assert study.patient_id is not None
        return imaging_study(
            study.existing, study_uid=study.uid, patient_id=study.patient_id,
            endpoint_id=endpoint_id, study_attrs=orjson.loads(first.study_attrs),
            series=series, instances=instances,
        )  # fmt: skip

    def _entries(self, study: _Study) -> tuple[list[SeriesEntry], list[InstanceEntry]]:
        """The study's series and instances: those indexed, then those of this request."""
        series = {s.series_uid: s for s in study.indexed_series}
        instances = {i.sop_uid: i for i in study.indexed_instances}
        for _, parsed, sha, size in study.instances:
            series.setdefault(parsed.series_uid, _series_entry(parsed))
            instances.setdefault(parsed.sop_uid, self._instance_entry(parsed, sha, size))
        ordered = sorted(instances.values(), key=lambda i: (i.series_uid, i.instance_number or 0, i.sop_uid))  # fmt: skip
        return list(series.values()), ordered

    def _fail(self, study: _Study, code: int, reason: str, outcome: model.StoreOutcome) -> None:
        for number, parsed, _, _ in study.instances:
            outcome.failed.append(model.FailedInstance(parsed.sop_class_uid, parsed.sop_uid, code, reason, number))  # fmt: skip
        study.instances = []

    # -- 5: the index ---------------------------------------------------------------------
    def _index(self, studies: dict[str, _Study], outcome: model.StoreOutcome) -> None:
        for study in studies.values():
            if not study.instances:
                continue
            assert study.patient_id is not None
            for _, parsed, sha, size in study.instances:
                entry = StudyEntry(
                    parsed.study_uid, study.patient_id, study.imaging_study_id, parsed.study_date,
                    parsed.accession_number, parsed.patient_id, parsed.study_attrs, self.now(),
                )  # fmt: skip
                self.index.add(entry, _series_entry(parsed), self._instance_entry(parsed, sha, size))  # fmt: skip
                outcome.stored.append(model.StoredInstance(parsed.sop_class_uid, parsed.sop_uid, parsed.study_uid, parsed.series_uid))  # fmt: skip

    def _instance_entry(self, parsed: ParsedInstance, sha: str, size: int) -> InstanceEntry:
        return InstanceEntry(
            parsed.study_uid, parsed.series_uid, parsed.sop_uid, parsed.sop_class_uid,
            parsed.instance_number, parsed.transfer_syntax, parsed.frames, sha, size,
            parsed.instance_attrs, self.now(),
        )  # fmt: skip


def _series_entry(parsed: ParsedInstance) -> SeriesEntry:
    return SeriesEntry(parsed.study_uid, parsed.series_uid, parsed.modality, parsed.series_number, parsed.series_attrs)  # fmt: skip


def _rule_broken(parsed: ParsedInstance, study_uid: str | None) -> tuple[int, str] | None:
    if study_uid is not None and parsed.study_uid != study_uid:
        return model.DOES_NOT_MATCH, "the StudyInstanceUID differs from the study in the URL"
    other_ids = [str(i.get("PatientID", "")) for i in parsed.header.get("OtherPatientIDsSequence", [])]  # fmt: skip
    if any(looks_like_resident_number(v) for v in [parsed.patient_id, *other_ids]):
        # Architecture rule 5: a plain resident registration number is never stored.
        return model.DOES_NOT_MATCH, "a patient identifier is shaped like a resident registration number; send the record number"  # fmt: skip
    return None


def _pairs(criteria: str) -> list[tuple[str, str]]:
    name, _, value = criteria.partition("=")
    return [(name, value)]


def _endpoint(rs: RecordSession, address: str) -> str:
    """The platform's DICOMweb Endpoint, created on first use (conditional create)."""
    written = rs.conditional_update(
        "Endpoint", f"identifier={SID_ENDPOINT}|{DICOMWEB_ENDPOINT_ID}", dicomweb_endpoint(address)
    )
    return written.stored.id
