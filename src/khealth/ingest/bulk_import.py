"""Bulk import of NDJSON and Bundle files through the record service (the one door).

``BulkImporter.run(paths)`` streams every file with bounded memory:

- **NDJSON** (one resource per line, as FHIR Bulk Data writes them): read line by line in
  batches; each batch is one record session (one transaction, one audit event) that
  stores the batch with update-as-create (the resources keep their ids; content equal
  to the stored version makes no new version) *and* records the byte offset after its
  last line in the file's job row.  Resources and progress commit together, so a run
  killed at any point (Ctrl-C, SIGKILL) resumes exactly after the last committed batch.
- **JSON files**: a Bundle (one transaction per file; see :mod:`khealth.ingest.bundle_files`)
  or a single resource.  Loaded whole: a Bundle is a few MB.

A file's job id is a fingerprint of its content, not of its path: SHA-256 over the size,
the first and the last 64 KiB.  It survives moving, copying or touching the file, and a
changed file (whose offsets would be meaningless) gets a new job and starts again; a
change in the middle that keeps the size, head and tail is not noticed (then delete the
job row or import the file under another name after editing it).  Finished files are
skipped after reading 128 KiB of them.

Preparing a line (parse, validate, stamp, index) runs ahead of the writes in a worker
process when the machine has a second core and the files are large enough
(``ImportOptions.workers``; :mod:`khealth.ingest.prepare_pool`): the worker prepares the
next batches while this process writes the current one through the record session, which
still checks access, writes the audit event and re-prepares any resource that exists
already.  Without a worker the same steps run here, batch by batch.

Errors: a resource that fails validation is reported as ``file:line: issue`` (never its
content).  ``on_error="stop"`` raises :class:`ImportStopped` and nothing of the failing
batch is stored; ``"skip"`` counts the line as failed and stores the rest of the batch.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO, Literal, Protocol

import orjson

from khealth.access.context import AccessContext
from khealth.core.errors import Issue, KhealthError
from khealth.ingest.prepare_pool import PreparePool
from khealth.records.ports import JobState
from khealth.records.prepare import PreparedCreate, prepare_line, unpack_line
from khealth.records.service import Records, RecordSession, WriteResult

JOB_KIND = "import-file"
FINGERPRINT_CHUNK = 64 * 1024
FILE_SUFFIXES = (".ndjson", ".json")
#: NDJSON bytes below which ``workers=None`` prepares in this process (a worker takes
#: about a second to start)
AUTO_WORKER_BYTES = 8 * 1024 * 1024

OnError = Literal["stop", "skip"]


class Progress(Protocol):
    """Where progress goes (the CLI draws a bar; tests count calls)."""

    def advance(self, nbytes: int, resources: int) -> None: ...


class NoProgress:
    def advance(self, nbytes: int, resources: int) -> None:
        return None


class ImportStopped(KhealthError):
    """A resource failed under ``on_error="stop"``; its batch (or Bundle) was not stored."""


@dataclass(frozen=True, slots=True)
class ImportOptions:
    batch_size: int = 1000
    on_error: OnError = "stop"
    #: processes that prepare lines ahead of the writes: 0 = none, None = one when there
    #: are two or more cores and at least ``AUTO_WORKER_BYTES`` of NDJSON
    workers: int | None = None


@dataclass(slots=True)
class ImportSummary:
    files: int = 0
    files_skipped: int = 0  # finished by an earlier run
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def resources(self) -> int:
        return self.created + self.updated + self.unchanged

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def describe(self) -> str:
        elapsed = max(self.elapsed, 1e-9)
        return (
            f"{self.files} files ({self.files_skipped} already imported): "
            f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.failed} failed in {elapsed:.1f} s ({self.resources / elapsed:,.0f} resources/s)"
        )

    def count(self, results: Iterable[WriteResult]) -> None:
        for r in results:
            if r.created:
                self.created += 1
            elif r.changed:
                self.updated += 1
            else:
                self.unchanged += 1


@dataclass(frozen=True, slots=True)
class FileProgress:
    """What the job row of one file holds: no path, no content, only positions."""

    offset: int = 0  # bytes committed so far
    line: int = 0  # lines committed so far
    done: bool = False

    @classmethod
    def from_job(cls, job: JobState | None) -> FileProgress:
        if job is None:
            return cls()
        detail = orjson.loads(job.detail)
        return cls(int(detail["offset"]), int(detail["line"]), job.state == "done")


def discover(paths: Iterable[Path]) -> list[Path]:
    """Files as given, and every ``*.ndjson`` / ``*.json`` inside directories, sorted."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in FILE_SUFFIXES)
            )
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"no such file or directory: {path}")
    return found


def fingerprint(path: Path) -> str:
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with path.open("rb") as f:
        digest.update(f.read(FINGERPRINT_CHUNK))
        if size > FINGERPRINT_CHUNK:
            f.seek(max(FINGERPRINT_CHUNK, size - FINGERPRINT_CHUNK))
            digest.update(f.read(FINGERPRINT_CHUNK))
    return digest.hexdigest()


def issue_text(error: KhealthError) -> str:
    """The first issue, as ``code: diagnostics (expression)``; diagnostics hold no data."""
    if not error.issues:
        return type(error).__name__
    issue: Issue = error.issues[0]
    where = f" ({', '.join(issue.expression)})" if issue.expression else ""
    more = f" (+{len(error.issues) - 1} more)" if len(error.issues) > 1 else ""
    return f"{issue.code}: {issue.diagnostics}{where}{more}"


@dataclass(slots=True)
class _Raw:
    number: int
    text: bytes | None  # the line without its line end; None: a batch of blank lines only
    end: int  # byte offset just after this line


@dataclass(slots=True)
class _Line:
    number: int
    resource: PreparedCreate | KhealthError | None  # None: a batch of blank lines only
    end: int


def _read_batch(f: BinaryIO, start: FileProgress, size: int) -> list[_Raw]:
    """Up to ``size`` non-blank lines from the current position of ``f``."""
    lines: list[_Raw] = []
    offset, number = start.offset, start.line
    while len(lines) < size:
        raw = f.readline()
        if not raw:
            break
        offset += len(raw)
        number += 1
        text = raw.strip()
        if text:
            lines.append(_Raw(number, text, offset))
    if not lines and number != start.line:  # only blank lines: still move past them
        lines.append(_Raw(number, None, offset))
    return lines


def _after(batch: Sequence[_Raw | _Line]) -> FileProgress:
    return FileProgress(batch[-1].end, batch[-1].number, False)


def worker_count(files: Sequence[Path], workers: int | None) -> int:
    """How many prepare workers an import of ``files`` uses (``ImportOptions.workers``)."""
    if workers is not None:
        return workers
    ndjson = sum(p.stat().st_size for p in files if p.suffix == ".ndjson")
    return 1 if (os.cpu_count() or 1) > 1 and ndjson >= AUTO_WORKER_BYTES else 0


class BulkImporter:
    def __init__(
        self,
        records: Records,
        ctx: AccessContext,
        options: ImportOptions | None = None,
        progress: Progress | None = None,
        report: Callable[[str], None] | None = None,
    ) -> None:
        self.records = records
        self.ctx = ctx
        self.options = options or ImportOptions()
        self.progress: Progress = progress or NoProgress()
        self.report = report or (lambda _message: None)
        self.summary = ImportSummary()
        self._pool: PreparePool | None = None
        self._job_created: dict[str, int] = {}

    def run(self, files: Sequence[Path]) -> ImportSummary:
        """Import each file in turn; the summary is kept up to date as it goes (so that
        an interrupted run can still say what it did)."""
        workers = self._workers(files)
        if workers:
            self._pool = PreparePool(self.ctx, self.records.clock, workers)
        try:
            for path in files:
                self.import_file(path)
        finally:
            if self._pool is not None:
                self._pool.close()
                self._pool = None
        return self.summary

    def _workers(self, files: Sequence[Path]) -> int:
        return worker_count(files, self.options.workers)

    def import_file(self, path: Path) -> None:
        # late import: bundle_files builds on this module's types
        from khealth.ingest.bundle_files import import_json_file

        job_id = f"{JOB_KIND}:{fingerprint(path)}"
        self.summary.files += 1
        if path.suffix == ".ndjson":
            self._import_ndjson(path, job_id)
        else:
            import_json_file(self, path, job_id)

    # -- NDJSON ------------------------------------------------------------------------
    def _import_ndjson(self, path: Path, job_id: str) -> None:
        """One transaction per batch, with the job row that records how far it got; the
        next batches are read and prepared meanwhile, outside the transaction."""
        with path.open("rb") as f:
            state: FileProgress | None = None
            batches: Iterator[list[_Line]] | None = None
            batch: list[_Line] | None = None
            try:
                while True:
                    with self.records.begin(self.ctx, "import") as rs:
                        if state is None:
                            state = self._resume(rs, job_id, path, f)
                            if state.done:
                                return
                            batches = self._batches(f, state)
                        assert batches is not None
                        if batch is None:
                            batch = next(batches)
                        before = state
                        stored = self._store_batch(rs, path, batch)
                        state = self._advance(state, batch)
                        self.save(rs, job_id, state)
                    self.progress.advance(state.offset - before.offset, stored)
                    if state.done:
                        return
                    batch = next(batches)
            finally:
                if batches is not None:
                    batches.close()  # type: ignore[attr-defined]

    def _batches(self, f: BinaryIO, start: FileProgress) -> Iterator[list[_Line]]:
        """The file's batches from ``start``, prepared; the last one is empty."""
        size, state, pool = self.options.batch_size, start, self._pool
        if pool is None:
            while True:
                raw = _read_batch(f, state, size)
                yield [_Line(r.number, self._prepare_here(r.text), r.end) for r in raw]
                if not raw:
                    return
                state = _after(raw)
        sent: deque[list[_Raw]] = deque()
        end_of_file = False
        try:
            while True:
                while not end_of_file and len(sent) < pool.depth:
                    raw = _read_batch(f, state, size)
                    if not raw:
                        end_of_file = True
                        break
                    state = _after(raw)
                    texts = [r.text for r in raw if r.text is not None]
                    if texts:
                        pool.submit(texts)
                    sent.append(raw)
                if not sent:
                    yield []
                    return
                raw = sent.popleft()
                answers = iter(pool.receive() if raw[0].text is not None else ())
                yield [
                    _Line(r.number, None if r.text is None else unpack_line(next(answers), r.text), r.end)
                    for r in raw
                ]  # fmt: skip
        finally:
            if pool.in_flight:  # stopped half-way: what is in flight is of no use
                pool.close()
                self._pool = None

    def _prepare_here(self, text: bytes | None) -> PreparedCreate | KhealthError | None:
        if text is None:
            return None
        return unpack_line(prepare_line(self.ctx, self.records.clock, text), text)

    def _resume(self, rs: RecordSession, job_id: str, path: Path, f: BinaryIO) -> FileProgress:
        state = FileProgress.from_job(rs.get_job(job_id))
        if state.done:
            self.summary.files_skipped += 1
            self.progress.advance(path.stat().st_size, 0)
        elif state.offset:
            f.seek(state.offset)
            self.progress.advance(state.offset, 0)
        return state

    def _advance(self, state: FileProgress, batch: list[_Line]) -> FileProgress:
        if not batch:
            return replace(state, done=True)
        return _after(batch)

    def _store_batch(self, rs: RecordSession, path: Path, batch: list[_Line]) -> int:
        """Store the batch's resources; returns how many were stored (in any outcome)."""
        lines = [line for line in batch if line.resource is not None]
        outcomes = rs.upsert_prepared([line.resource for line in lines])  # type: ignore[misc]
        failures = [
            (str(line.number), o)
            for line, o in zip(lines, outcomes, strict=True)
            if isinstance(o, KhealthError)
        ]
        self.fail(path, failures)
        written = [o for o in outcomes if isinstance(o, WriteResult)]
        self.summary.count(written)
        return len(written)

    # -- shared by both file kinds -----------------------------------------------------
    def fail(
        self,
        path: Path,
        failures: Sequence[tuple[str, KhealthError]],
        note: str = "",
        count: int | None = None,
    ) -> None:
        """Report failures at their place (a line, a Bundle entry); under
        ``on_error="stop"`` raise on the first one (which rolls the open session back)."""
        if not failures:
            return
        if self.options.on_error == "stop":
            where, error = failures[0]
            raise ImportStopped([Issue("invalid", f"{path}:{where}: {issue_text(error)}")])
        for where, error in failures:
            self.report(f"{path}:{where}: {issue_text(error)}{note}")
        self.summary.failed += len(failures) if count is None else count

    def save(self, rs: RecordSession, job_id: str, state: FileProgress) -> None:
        now = self.records.clock.now_us()
        created = self._job_created.get(job_id)
        if created is None:  # read once per file, not once per batch
            previous = rs.get_job(job_id)
            created = self._job_created[job_id] = previous.created if previous else now
        detail = orjson.dumps({"offset": state.offset, "line": state.line})
        state_name = "done" if state.done else "running"
        rs.put_job(JobState(job_id, JOB_KIND, state_name, created, now, detail))
