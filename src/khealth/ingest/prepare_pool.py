"""Bulk import on more than one core: NDJSON lines prepared in worker processes.

Preparing a line (parse, validate, stamp, serialise, index:
:func:`khealth.records.prepare.prepare_line`) is pure Python and about a third of what an
import costs; writing is the rest, and it has to stay in the process that holds the
transaction.  So the importer reads a batch of lines and sends it to a worker, which
answers plain tuples (:data:`~khealth.records.prepare.PackedLine`), while the importer
writes the batch before it through the record session.  A worker writes nothing.

- Bounded: at most ``depth`` batches are in flight; the importer reads no further ahead.
- Ordered: batches go to the workers in turn and come back in the same order.
- A worker is a fresh interpreter (``python -m khealth.ingest.prepare_pool``) talking over
  its stdin and stdout: not a fork (the parent holds database connections a child would
  share) and not ``multiprocessing`` (whose spawn runs the parent's main script again).
  It ignores Ctrl-C (the parent stops the import and closes the pipes) and ends when its
  stdin closes, also when the parent was killed with SIGKILL.  It reads stdin in a thread,
  so neither side can block the other while both send.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import signal
import struct
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from khealth.access.context import AccessContext
from khealth.records.clock import Clock
from khealth.records.prepare import PackedLine

_HEADER = struct.Struct("<Q")  # the length of the frame that follows


class PreparePool:
    def __init__(self, ctx: AccessContext, clock: Clock, workers: int, depth: int = 0) -> None:
        """``workers`` processes with a copy of ``clock`` each (a frozen test clock goes on
        ticking in the worker; the system clock is the wall clock anywhere)."""
        self.depth = depth or 2 * workers
        self._workers: list[subprocess.Popen[bytes]] = []
        self._sent = 0
        self._received = 0
        source = str(Path(__file__).resolve().parents[2])  # where khealth is imported from
        path = os.pathsep.join(p for p in (source, os.environ.get("PYTHONPATH")) if p)
        setup = pickle.dumps((ctx, clock), protocol=pickle.HIGHEST_PROTOCOL)
        try:
            for _ in range(workers):
                worker = subprocess.Popen(
                    [sys.executable, "-m", "khealth.ingest.prepare_pool"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    env={**os.environ, "PYTHONPATH": path},
                )
                self._workers.append(worker)
                assert worker.stdin is not None
                _write_frame(worker.stdin, setup)
        except BaseException:
            self.close()
            raise

    @property
    def in_flight(self) -> int:
        return self._sent - self._received

    def submit(self, lines: Sequence[bytes]) -> None:
        """Send one batch of non-blank raw lines (without their line ends) to the next
        worker."""
        assert lines, "an empty batch has nothing to prepare"
        worker = self._workers[self._sent % len(self._workers)]
        assert worker.stdin is not None
        try:
            _write_frame(worker.stdin, b"\n".join(lines))
        except OSError:
            raise RuntimeError(_ended(worker)) from None
        self._sent += 1

    def receive(self) -> list[PackedLine]:
        """The answers to the oldest batch in flight, one per line, in order."""
        worker = self._workers[self._received % len(self._workers)]
        assert worker.stdout is not None
        data = _read_frame(worker.stdout)
        if data is None:
            raise RuntimeError(_ended(worker))
        self._received += 1
        answers: list[PackedLine] = pickle.loads(data)  # noqa: S301  # nosec B301  (our own worker)
        return answers

    def close(self) -> None:
        """Stop the workers; batches still in flight are dropped."""
        for worker in self._workers:
            for pipe in (worker.stdin, worker.stdout):
                if pipe is not None:
                    with contextlib.suppress(OSError):
                        pipe.close()
        for worker in self._workers:
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        self._workers = []


def _ended(worker: subprocess.Popen[bytes]) -> str:
    return f"an import worker process ended unexpectedly (exit status {worker.poll()})"


def _write_frame(pipe: IO[bytes], data: bytes) -> None:
    pipe.write(_HEADER.pack(len(data)))
    pipe.write(data)
    pipe.flush()


def _read_frame(pipe: IO[bytes]) -> bytes | None:
    """One frame, or None at the end of the stream."""
    header = pipe.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    data = pipe.read(size)
    return data if len(data) == size else None


# -- the worker --------------------------------------------------------------------------
def _serve(tasks: IO[bytes], results: IO[bytes]) -> None:
    """Prepare every batch that arrives and answer in order, until stdin closes."""
    from khealth.records.prepare import prepare_line

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    setup = _read_frame(tasks)
    if setup is None:
        return
    ctx, clock = pickle.loads(setup)  # noqa: S301  # nosec B301  (from our own parent)
    _freeze_definitions()
    inbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
    threading.Thread(target=_read_all, args=(tasks, inbox), daemon=True).start()
    while (chunk := inbox.get()) is not None:
        answers: list[Any] = [prepare_line(ctx, clock, raw) for raw in chunk.split(b"\n")]
        try:
            _write_frame(results, pickle.dumps(answers, protocol=pickle.HIGHEST_PROTOCOL))
        except OSError:  # the parent is gone
            return


def _read_all(tasks: IO[bytes], inbox: queue.SimpleQueue[bytes | None]) -> None:
    try:
        while (chunk := _read_frame(tasks)) is not None:
            inbox.put(chunk)
    except OSError:
        pass
    inbox.put(None)


def _freeze_definitions() -> None:
    """Compile the validator's model and every type's extraction plan, drop the parsed
    definition files they came from (tens of MB), then keep the ~100k long-lived
    compiled objects out of the garbage collector's walks (as ``khealth import`` does)."""
    import gc

    from khealth.fhir.definitions import SUPPORTED_TYPES, release_parsed
    from khealth.fhir.extract import compartment_params, uncompiled
    from khealth.fhir.structure import structure_model

    structure_model()
    compartment_params()
    for resource_type in SUPPORTED_TYPES:
        uncompiled(resource_type)  # compiles the type's plan
    release_parsed()
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def _main() -> None:
    results = os.fdopen(os.dup(1), "wb")  # the frames; anything printed goes to stderr
    os.dup2(2, 1)
    _serve(sys.stdin.buffer, results)


if __name__ == "__main__":
    _main()


__all__ = ["PreparePool"]
