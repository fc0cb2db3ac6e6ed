"""Bulk Data $export jobs (FHIR Bulk Data Access IG 2.0.0,
https://hl7.org/fhir/uv/bulkdata/export.html): kick-off, status, files, cancel.

A job runs in a background thread of the process that took the kick-off.  It reads
through the record service (``Records.export_stream``: scopes checked per type, one
audit event per job with the counts per type), page by page in short reads, and writes
one NDJSON file per type (a new file every ``file_limit`` resources) under
``{directory}/{job id}/``.  Its state lives in the ``job`` table, so any process can
answer a status poll, also after a restart.

A restart interrupts the jobs it was running: they are not resumed.  A ``running`` job
whose heartbeat (a progress write, at most every ``HEARTBEAT_S``) is older
than ``stale_after_s`` and that no thread of this process runs is marked failed on its
next poll, and the client starts a new export.
"""

from __future__ import annotations

import re
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import IO, Any

import orjson
import structlog

from khealth.access.context import AccessContext
from khealth.core.errors import Forbidden, InvalidRequest, Issue, KhealthError, NotFound
from khealth.fhir.definitions import SUPPORTED_TYPES
from khealth.fhir.extract import compartment_params
from khealth.records.ports import JobState
from khealth.records.service import ExportScope, Records

log = structlog.get_logger("khealth.export")

KIND = "bulk-export"
FILE_LIMIT = 100_000  # resources per NDJSON file
HEARTBEAT_EVERY = 1_000  # resources between looks at the clock for a progress write
HEARTBEAT_S = 1.0  # at most one progress write (and cross-process cancel check) a second
STALE_AFTER_S = 120.0
MAX_GROUP_MEMBERS = 10_000  # the members go into one SQL IN list
FILE_NAME = re.compile(r"^[A-Z][A-Za-z]+-[0-9]+\.ndjson$")
ERROR_TYPE = "OperationOutcome"


@dataclass(frozen=True, slots=True)
class ExportRequest:
    """A validated kick-off: ``types`` empty means every type the level covers."""

    level: str  # system | patient | group
    request_url: str
    types: tuple[str, ...] = ()
    since: int | None = None
    group_id: str | None = None


@dataclass(frozen=True, slots=True)
class OutputFile:
    type: str
    name: str
    count: int


@dataclass(frozen=True, slots=True)
class ExportJob:
    """The job's detail JSON: what to export for whom, and what is written so far."""

    owner: str  # token subject of the kick-off: only it may poll and download
    level: str
    request_url: str
    transaction_time: int
    types: tuple[str, ...]
    denied: tuple[str, ...] = ()
    since: int | None = None
    group_id: str | None = None
    patients: tuple[str, ...] = ()
    output: tuple[OutputFile, ...] = ()
    error: tuple[OutputFile, ...] = ()
    progress: str = "queued"
    failure: str | None = None

    def to_bytes(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_bytes(cls, data: bytes) -> ExportJob:
        raw: dict[str, Any] = orjson.loads(data)
        for key in ("output", "error"):
            raw[key] = tuple(OutputFile(**f) for f in raw[key])
        for key in ("types", "denied", "patients"):
            raw[key] = tuple(raw[key])
        return cls(**raw)


@dataclass(frozen=True, slots=True)
class ExportStatus:
    state: str  # running | done | failed
    job: ExportJob


class _Beat:
    """Paces progress writes: at most one every ``HEARTBEAT_S`` (an export of many
    empty types must not write the job row once per type)."""

    def __init__(self) -> None:
        self._last = 0.0

    def due(self) -> bool:
        now = time.monotonic()
        if now - self._last < HEARTBEAT_S:
            return False
        self._last = now
        return True


class _Stopped(Exception):
    """The job was cancelled (or the server is shutting down): stop writing."""


def default_types(level: str) -> tuple[str, ...]:
    """Every supported type at system level; the types a Patient compartment can hold
    (http://hl7.org/fhir/R4/compartmentdefinition-patient.html) at Patient and Group level."""
    if level == "system":
        return SUPPORTED_TYPES
    inside = set(compartment_params()) | {"Patient"}
    return tuple(t for t in SUPPORTED_TYPES if t in inside)


def group_members(group: dict[str, Any]) -> tuple[str, ...]:
    """The Patient ids of a Group's active ``member.entity`` references (local ones)."""
    found: list[str] = []
    for member in group.get("member") or ():
        if not isinstance(member, dict) or member.get("inactive") is True:
            continue
        reference = (member.get("entity") or {}).get("reference")
        if isinstance(reference, str) and reference.startswith("Patient/"):
            found.append(reference.removeprefix("Patient/").split("/")[0])
    return tuple(dict.fromkeys(found))


class NdjsonWriter:
    """One type's files: ``{type}-{n}.ndjson``, a new one every ``limit`` lines, none
    for a type without resources."""

    def __init__(self, folder: Path, resource_type: str, limit: int) -> None:
        self.folder = folder
        self.resource_type = resource_type
        self.limit = limit
        self.files: list[OutputFile] = []
        self.total = 0
        self._file: IO[bytes] | None = None
        self._lines = 0

    def write(self, line: bytes) -> None:
        if self._file is None or self._lines >= self.limit:
            self._next_file()
        assert self._file is not None
        self._file.write(line)
        self._file.write(b"\n")
        self._lines += 1
        self.total += 1

    def _next_file(self) -> None:
        self._finish_file()
        name = f"{self.resource_type}-{len(self.files) + 1}.ndjson"
        self.folder.mkdir(parents=True, exist_ok=True)
        self._file = (self.folder / name).open("wb")
        self.files.append(OutputFile(self.resource_type, name, 0))

    def _finish_file(self) -> None:
        if self._file is not None:
            self._file.close()
            self.files[-1] = replace(self.files[-1], count=self._lines)
            self._file = None
            self._lines = 0

    def close(self) -> list[OutputFile]:
        self._finish_file()
        return self.files


class BulkExports:
    """Starts, tracks, cancels and serves export jobs."""

    def __init__(
        self, records: Records, directory: Path, *, file_limit: int = FILE_LIMIT,
        stale_after_s: float = STALE_AFTER_S,
    ) -> None:  # fmt: skip
        self.records = records
        self.directory = directory
        self.file_limit = file_limit
        self.stale_after_us = int(stale_after_s * 1_000_000)
        self._lock = threading.Lock()
        self._stops: dict[str, threading.Event] = {}  # jobs this process runs
        self._threads: dict[str, threading.Thread] = {}
        self._shutting_down = False

    # -- kick-off --------------------------------------------------------------------
    def start(self, ctx: AccessContext, request: ExportRequest) -> str:
        """Plan the export, persist it, start its thread; returns the job id.  The
        types the token cannot read are left out and reported in the manifest's
        ``error``; when it can read none of them the kick-off is refused (403)."""
        unknown = [t for t in request.types if t not in SUPPORTED_TYPES]
        if unknown:
            raise InvalidRequest([Issue("not-supported", "_type names an unknown resource type")])
        wanted = request.types or default_types(request.level)
        allowed = tuple(t for t in wanted if self.records.may_export(ctx, t))
        if not allowed:
            self.records.audit_export(ctx, {}, "8", "export refused: no readable type")
            raise Forbidden([Issue("forbidden", "the token's scopes allow none of these types")])
        patients = self._members(ctx, request.group_id) if request.level == "group" else ()
        job = ExportJob(
            owner=ctx.subject, level=request.level, request_url=request.request_url,
            transaction_time=self.records.clock.now_us(), types=allowed,
            denied=tuple(t for t in request.types if t not in allowed), since=request.since,
            group_id=request.group_id, patients=patients,
        )  # fmt: skip
        job_id = uuid.uuid4().hex
        self._put(job_id, "running", job, created=job.transaction_time)
        self._launch(job_id, ctx, job)
        return job_id

    def _members(self, ctx: AccessContext, group_id: str | None) -> tuple[str, ...]:
        """The Group is read through the one door (scopes, audit) at kick-off, so that
        an unknown Group is a 404 now and later changes to it do not move the export."""
        assert group_id is not None
        with self.records.begin(ctx, "read") as rs:
            group = orjson.loads(rs.read("Group", group_id).content)
        members = group_members(group)
        if len(members) > MAX_GROUP_MEMBERS:
            raise InvalidRequest(
                [Issue("too-costly", f"a Group export takes at most {MAX_GROUP_MEMBERS} members")]
            )
        return members

    def _launch(self, job_id: str, ctx: AccessContext, job: ExportJob) -> None:
        stop = threading.Event()
        thread = threading.Thread(
            target=self._run, args=(job_id, ctx, job, stop), name=f"export-{job_id[:8]}",
            daemon=True,
        )  # fmt: skip
        with self._lock:
            self._stops[job_id] = stop
            self._threads[job_id] = thread
        thread.start()

    # -- status, files, cancel ---------------------------------------------------------
    def status(self, ctx: AccessContext, job_id: str) -> ExportStatus:
        state, job = self._owned(ctx, job_id)
        if state == "running" and self._is_stale(job_id):
            job = replace(job, failure="the export was interrupted by a server restart")
            self._put(job_id, "failed", job)
            state = "failed"
        return ExportStatus(state, job)

    def file_path(self, ctx: AccessContext, job_id: str, name: str) -> Path:
        state, job = self._owned(ctx, job_id)
        names = {f.name for f in (*job.output, *job.error)}
        if state != "done" or not FILE_NAME.match(name) or name not in names:
            raise NotFound([Issue("not-found", "no such export file")])
        return self.directory / job_id / name

    def cancel(self, ctx: AccessContext, job_id: str) -> None:
        """DELETE on the status URL: the job stops, its files go, and it is then
        unknown (404).  A thread of another process sees it at its next heartbeat."""
        _state, job = self._owned(ctx, job_id)
        with self._lock:
            self._put(job_id, "cancelled", replace(job, progress="cancelled"))
            stop = self._stops.get(job_id)
            if stop is not None:
                stop.set()  # the thread removes its files as it ends
        if stop is None:
            shutil.rmtree(self.directory / job_id, ignore_errors=True)

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Graceful shutdown: running jobs end as failed (not resumed) and threads join."""
        with self._lock:
            self._shutting_down = True
            threads = list(self._threads.values())
            for stop in self._stops.values():
                stop.set()
        for thread in threads:
            thread.join(timeout_s)

    def _owned(self, ctx: AccessContext, job_id: str) -> tuple[str, ExportJob]:
        found = self._get(job_id)
        if found is None or found.kind != KIND or found.state == "cancelled":
            raise NotFound([Issue("not-found", "no such export job")])
        job = ExportJob.from_bytes(found.detail)
        if job.owner != ctx.subject:
            raise Forbidden([Issue("forbidden", "only the client that started an export sees it")])
        return found.state, job

    def _is_stale(self, job_id: str) -> bool:
        with self._lock:
            if job_id in self._stops:
                return False
        found = self._get(job_id)
        return found is not None and self.records.clock.now_us() - found.updated > (
            self.stale_after_us
        )

    # -- the job thread ---------------------------------------------------------------
    def _run(self, job_id: str, ctx: AccessContext, job: ExportJob, stop: threading.Event) -> None:
        counts: dict[str, int] = {}
        outcome, note = "0", None
        try:
            job = self._export(job_id, ctx, job, stop, counts)
            self._heartbeat(job_id, replace(job, progress="done"), stop, state="done")
        except _Stopped:
            outcome, note = "4", "export stopped before the end"
            stop.set()  # also when another process cancelled it: the files go below
            self._stopped(job_id, job)
        except Exception as error:  # the job must end as failed, never stay "running"
            log.error("export_failed", job=job_id[:8], error_type=type(error).__name__)
            reason = error.summary() if isinstance(error, KhealthError) else "internal error"
            outcome, note = "8", "export failed"
            self._put(job_id, "failed", replace(job, failure=f"the export failed: {reason}"))
        finally:
            with self._lock:
                self._stops.pop(job_id, None)
                self._threads.pop(job_id, None)
            if stop.is_set():  # cancelled or shut down, perhaps just after the last save
                shutil.rmtree(self.directory / job_id, ignore_errors=True)
            self.records.audit_export(ctx, counts, outcome, note, job.group_id)

    def _export(
        self, job_id: str, ctx: AccessContext, job: ExportJob, stop: threading.Event,
        counts: dict[str, int],
    ) -> ExportJob:  # fmt: skip
        job = replace(job, error=self._write_denied(job_id, job))
        scope = ExportScope(job.level, job.since, job.patients)
        beat = _Beat()
        for resource_type in job.types:
            job = replace(job, progress=f"exporting {resource_type}")
            if beat.due():
                self._heartbeat(job_id, job, stop)
            with self._writer(job_id, resource_type) as writer:
                for v in self.records.export_stream(ctx, resource_type, scope):
                    if stop.is_set():
                        raise _Stopped
                    if v.last_updated > job.transaction_time:
                        continue  # written after the kick-off: not in this export
                    writer.write(v.content)
                    if writer.total % HEARTBEAT_EVERY == 0 and beat.due():
                        progress = f"exporting {resource_type}: {writer.total} resources"
                        self._heartbeat(job_id, replace(job, progress=progress), stop)
            if writer.total:
                counts[resource_type] = writer.total
            job = replace(job, output=(*job.output, *writer.files))
        return job

    @contextmanager
    def _writer(self, job_id: str, resource_type: str) -> Iterator[NdjsonWriter]:
        writer = NdjsonWriter(self.directory / job_id, resource_type, self.file_limit)
        try:
            yield writer
        finally:
            writer.close()

    def _write_denied(self, job_id: str, job: ExportJob) -> tuple[OutputFile, ...]:
        """One OperationOutcome per type left out for want of scopes (the manifest's
        ``error`` files, https://hl7.org/fhir/uv/bulkdata/export.html#response---complete-status)."""
        if not job.denied:
            return ()
        with self._writer(job_id, ERROR_TYPE) as writer:
            for resource_type in job.denied:
                issue = Issue("forbidden", f"{resource_type} left out: the token cannot read it")
                outcome = {"resourceType": "OperationOutcome", "issue": [issue.to_fhir()]}
                writer.write(orjson.dumps(outcome))
        return tuple(writer.files)

    def _heartbeat(
        self, job_id: str, job: ExportJob, stop: threading.Event, state: str = "running"
    ) -> None:
        """Save progress, unless the job was cancelled here or by another process."""
        with self._lock:
            if stop.is_set():
                raise _Stopped
            with self.records.store.session() as session:
                found = session.get_job(job_id)
                if found is None or found.state != "running":
                    raise _Stopped
                session.put_job(self._state(job_id, state, job, found.created))

    def _stopped(self, job_id: str, job: ExportJob) -> None:
        with self._lock:
            if not self._shutting_down:
                return  # cancelled: the record already says so
        failure = "the server shut down during the export; start it again"
        self._put(job_id, "failed", replace(job, output=(), error=(), failure=failure))

    # -- the job table ----------------------------------------------------------------
    def _get(self, job_id: str) -> JobState | None:
        with self.records.store.session() as session:
            return session.get_job(job_id)

    def _put(self, job_id: str, state: str, job: ExportJob, created: int | None = None) -> None:
        with self.records.store.session() as session:
            if created is None:
                found = session.get_job(job_id)
                created = found.created if found else self.records.clock.now_us()
            session.put_job(self._state(job_id, state, job, created))

    def _state(self, job_id: str, state: str, job: ExportJob, created: int) -> JobState:
        now = self.records.clock.now_us()
        return JobState(job_id, KIND, state, created, now, job.to_bytes())


__all__ = ["BulkExports", "ExportJob", "ExportRequest", "ExportStatus", "OutputFile"]
