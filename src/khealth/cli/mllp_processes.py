"""The HL7 v2 listener of ``khealth serve --mllp-port``, in one process or several.

With ``--mllp-processes N`` (N > 1) the serve process listens as before and starts N − 1
listener processes on the same port (SO_REUSEPORT): the kernel spreads the senders'
connections over the N sockets, and each process parses, maps and commits its own
connections' messages with its own database connections.  One interpreter is bound by
its global lock at about 1.5 ms of CPU per message; N processes use N cores.  Every
guarantee is per message and holds across processes: AA after the commit, a control id
applied once (the ledger's primary key), identifiers looked up under the database's locks
(PostgreSQL advisory locks; SQLite's single writer).  A connection stays with one process,
so a sender's messages are applied in the order it sent them.

A listener process ends with the serve process (SIGTERM at exit; the kernel's
parent-death signal if the serve process is killed).  Logs carry no message content.
"""

from __future__ import annotations

import asyncio
import atexit
import ctypes
import os
import signal
import subprocess  # nosec B404  (our own interpreter, fixed arguments)
import sys
from typing import TYPE_CHECKING

import typer

from khealth.ingest.mllp import MllpServer, MllpSettings, MllpThread

if TYPE_CHECKING:
    from khealth.ingest.hl7v2.service import Hl7Feed

_PR_SET_PDEATHSIG = 1


def start_listeners(host: str, port: int, processes: int) -> MllpThread:
    """This process's listener (in a thread beside uvicorn) and ``processes − 1`` more."""
    settings = MllpSettings(host=host, port=port, reuse_port=processes > 1)
    listener = MllpThread(_open_feed(), settings).start()
    bound = listener.server.port
    children = [_spawn(host, bound) for _ in range(processes - 1)]
    atexit.register(_stop, children)
    typer.echo(f"HL7 v2 MLLP listening on {host}:{bound} ({processes} process"
               f"{'es' if processes > 1 else ''})", err=True)  # fmt: skip
    return listener


def _open_feed() -> Hl7Feed:
    """The feed over this process's own store connections (SQLite commits synchronous)."""
    from khealth.core.config import get_settings
    from khealth.records.service import Records
    from khealth.store.factory import open_store
    from khealth.store.feeds_sql import open_feed, synchronous_full

    settings = get_settings()
    store = open_store(settings.resolved_database_url(), migrate=True)
    synchronous_full(store)
    return open_feed(store, Records(store), settings.data_dir)


def _spawn(host: str, port: int) -> subprocess.Popen[bytes]:
    child = subprocess.Popen(  # noqa: S603  # nosec B603  (this interpreter and module)
        [sys.executable, "-m", "khealth.cli.mllp_processes", host, str(port), str(os.getpid())],
        stdout=subprocess.PIPE,
    )
    assert child.stdout is not None
    started = child.stdout.readline().strip() == b"listening"
    child.stdout.close()  # the child has moved its stdout onto its stderr
    if not started:
        child.kill()
        raise RuntimeError("an MLLP listener process did not start (see its log)")
    return child


def _stop(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        child.terminate()
    for child in children:
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            child.kill()


def _listen(host: str, port: int, parent: int) -> None:
    """One more listener process: until SIGTERM, or until the serve process is gone."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the signal was armed
        return
    import gc

    import uvloop

    from khealth.core.logging import configure_logging
    from khealth.fhir.validation import check_resource

    configure_logging()
    server = MllpServer(_open_feed(), MllpSettings(host=host, port=port, reuse_port=True))
    check_resource({"resourceType": "Patient", "id": "warm-up"})  # load the definitions now
    gc.collect()
    gc.freeze()  # what stays for the process's life is not walked by every collection
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.run_until_complete(server.start())
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, loop.stop)
    sys.stdout.write("listening\n")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # nothing more goes to the parent's pipe
    loop.run_forever()
    loop.run_until_complete(server.stop())


if __name__ == "__main__":
    _listen(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
