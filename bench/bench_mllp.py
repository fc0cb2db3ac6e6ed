"""HL7 v2 over MLLP, sustained: ``khealth serve --mllp-port`` in a subprocess (SQLite by
default, ``--database postgres`` for a fresh PostgreSQL database), C concurrent senders each
sending messages one by one and waiting for each ACK (original mode, as hospital engines
do), plus P pipelined senders that keep up to W messages in flight.  Each connection is one
facility (its own MSH-4), so control ids and record numbers are per facility as in the city.
Every AA counted is durable: the listener answers only after the group commit returned
(SQLite ``synchronous=FULL``; PostgreSQL commit with ``synchronous_commit=on``).

CPU is reported per message: the server process (all its threads), the PostgreSQL backends
serving it, and this client, from ``/proc`` (user + system), so that a busy shared machine
still gives comparable figures.

    .venv/bin/python bench/bench_mllp.py [--messages 3000] [--connections 16]
        [--pipelined 1 --window 50] [--mix adt|oru|mixed|visit] [--database postgres|URL]
        [--processes N]   # N listener processes on the port (khealth serve --mllp-processes)

Mixes: ``adt`` an admission of a new patient per message; ``oru`` results; ``mixed`` an
admission, a result and an order per patient; ``visit`` the whole stay of a patient on one
connection in order (A01 admit, ORU results, RDE order, A08 update, A03 discharge), so that
updates of existing Patients and Encounters are part of the load.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests import hl7_messages as m

START, END = b"\x0b", b"\x1c\x0d"
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PG_DATABASE = "khealth_bench_mllp"
_TICK = os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _facility(raw: bytes, facility: int) -> bytes:
    """The message as sent by facility ``facility`` (MSH-4 and the assigning authority)."""
    return raw.replace(b"GJH^1.2.410.200.1^ISO", f"F{facility}^1.2.410.200.{facility}^ISO".encode())


def _message(mix: str, i: int) -> bytes:
    if mix == "adt" or (mix == "mixed" and i % 3 == 0):
        return m.adt("A01", f"B{i}", mrn=f"B{i}", visit=f"V{i}")
    if mix == "oru" or i % 3 == 1:
        raw = m.oru(f"B{i}", mrn=f"B{i - 1}")
        return raw.replace(b"F200^LAB", f"F{i}^LAB".encode())
    return m.rde(f"B{i}", mrn=f"B{i - 2}").replace(b"ORD777", f"ORD{i}".encode())


def _visit(patient: int) -> list[bytes]:
    """One stay, in the order a facility sends it."""
    mrn, visit = f"P{patient}", f"V{patient}"
    return [
        m.adt("A01", f"{mrn}-1", mrn=mrn, visit=visit),
        m.oru(f"{mrn}-2", mrn=mrn).replace(b"F200^LAB", f"F{patient}^LAB".encode()),
        m.rde(f"{mrn}-3", mrn=mrn).replace(b"ORD777", f"ORD{patient}".encode()),
        m.adt("A08", f"{mrn}-4", mrn=mrn, visit=visit, name="홍^길순"),
        m.adt("A03", f"{mrn}-5", mrn=mrn, visit=visit, discharge="20261130100000+0900"),
    ]


def _streams(mix: str, messages: int, connections: int) -> list[list[bytes]]:
    """Each connection's messages, as its facility's."""
    if mix == "visit":
        streams: list[list[bytes]] = [[] for _ in range(connections)]
        for patient in range((messages + 4) // 5):
            streams[patient % connections].extend(_visit(patient))
        return [[_facility(raw, c) for raw in s] for c, s in enumerate(streams)]
    every = [_message(mix, i) for i in range(messages)]
    return [[_facility(raw, c) for raw in every[c::connections]] for c in range(connections)]


def _code(frame: bytes) -> str:
    return frame.split(b"MSA|", 1)[1][:2].decode()


def _frames(sock: socket.socket) -> Iterator[bytes]:
    buffer = b""
    while True:
        while END not in buffer:
            chunk = sock.recv(65536)
            if not chunk:
                return
            buffer += chunk
        frame, _, buffer = buffer.partition(END)
        yield frame


def _sender(port: int, messages: list[bytes], codes: list[str]) -> None:
    """Original mode: one message, wait for its ACK, the next."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        frames = _frames(sock)
        for raw in messages:
            sock.sendall(START + raw + END)
            codes.append(_code(next(frames)))


def _pipelined(port: int, messages: list[bytes], codes: list[str], window: int) -> None:
    """Up to ``window`` messages in flight on one connection, ACKs read as they come."""
    slots = threading.Semaphore(window)
    with socket.create_connection(("127.0.0.1", port)) as sock:

        def read() -> None:
            for _, frame in zip(messages, _frames(sock), strict=False):
                codes.append(_code(frame))
                slots.release()

        reader = threading.Thread(target=read)
        reader.start()
        for raw in messages:
            slots.acquire()
            sock.sendall(START + raw + END)
        reader.join()


def _cpu_of(pid: int) -> float:
    """User + system seconds of a process, all its threads."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def _tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its children (the extra listener processes)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return _cpu_of(pid) + sum(_tree_cpu(int(child)) for child in children)


def _client_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class PgBackends:
    """CPU of the PostgreSQL backends connected to the bench database."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine

        self.engine = create_engine(url)

    def pids(self) -> list[int]:
        from sqlalchemy import text

        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = :d AND pid <> pg_backend_pid()"
                ),
                {"d": PG_DATABASE},
            )
            return [int(r[0]) for r in rows]

    def cpu(self) -> dict[int, float]:
        return {pid: _cpu_of(pid) for pid in self.pids()}


def _postgres(create: bool) -> str:
    """Create (or drop) the scratch database; its URL."""
    from sqlalchemy import create_engine, text

    engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)"))
        if create:
            conn.execute(text(f"CREATE DATABASE {PG_DATABASE}"))
    engine.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + PG_DATABASE


def _wait_for(port: int, http_port: int, process: subprocess.Popen[bytes]) -> None:
    """Until both the listener and the web app answer: the app's start-up (definitions,
    routes) must not be counted in the server's CPU per message."""
    for _ in range(1200):
        if process.poll() is not None:
            raise SystemExit("khealth serve exited; see its log")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            urllib.request.urlopen(f"http://127.0.0.1:{http_port}/health", timeout=5).close()
            return
        except (OSError, urllib.error.URLError):
            time.sleep(0.1)
    raise SystemExit("khealth serve did not start")


def _run(port: int, args: argparse.Namespace) -> tuple[list[str], float]:
    total = args.connections + args.pipelined
    streams = _streams(args.mix, args.messages, total)
    codes: list[str] = []
    threads = [threading.Thread(target=_sender, args=(port, s, codes))
               for s in streams[: args.connections]]  # fmt: skip
    threads += [threading.Thread(target=_pipelined, args=(port, s, codes, args.window))
                for s in streams[args.connections :]]  # fmt: skip
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return codes, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--connections", type=int, default=16, help="stop-and-wait senders")
    parser.add_argument("--pipelined", type=int, default=0, help="pipelined senders")
    parser.add_argument(
        "--window", type=int, default=50, help="messages in flight per pipelined sender"
    )
    parser.add_argument("--mix", choices=["adt", "oru", "mixed", "visit"], default="adt")
    parser.add_argument("--processes", type=int, default=1, help="listener processes (--mllp-processes)")  # fmt: skip
    parser.add_argument(
        "--database", default="", help="'postgres' for a fresh PostgreSQL database, or a URL"
    )
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="bench-mllp-"))
    database = args.database or f"sqlite:///{data / 'k.db'}"
    scratch_postgres = database == "postgres"
    if scratch_postgres:
        database = _postgres(create=True)
    port, http_port = _free_port(), _free_port()
    khealth = str(Path(sys.executable).parent / "khealth")
    env = {**os.environ, "KHEALTH_DATA_DIR": str(data), "KHEALTH_LOG_LEVEL": "WARNING"}
    log = (data / "serve.log").open("ab")
    process = subprocess.Popen([khealth, "serve", "--port", str(http_port), "--database",
                                database, "--mllp-port", str(port), "--mllp-processes",
                                str(args.processes)], env=env, stdout=log,
                               stderr=subprocess.STDOUT)  # fmt: skip
    try:
        try:
            _wait_for(port, http_port, process)
        except SystemExit:
            print((data / "serve.log").read_text(errors="replace")[-3000:], file=sys.stderr)
            raise
        for w in range(4 * args.processes):  # connections land on every listener process
            warm = [_facility(raw, 9900 + w) for raw in [*_visit(-1), m.oru("WARM-ORU", mrn="WARM")]]  # fmt: skip
            _sender(port, warm, [])  # code paths and connections warmed, schema caches filled
        time.sleep(2)
        backends = PgBackends(database) if database.startswith("postgresql") else None
        pg_before = backends.cpu() if backends else {}
        server_before, client_before = _tree_cpu(process.pid), _client_cpu()
        codes, elapsed = _run(port, args)
        server = _tree_cpu(process.pid) - server_before
        client = _client_cpu() - client_before
        pg_after = backends.cpu() if backends else {}
        pg = sum(cpu - pg_before.get(pid, 0.0) for pid, cpu in pg_after.items())
        accepted = codes.count("AA")
        n = len(codes)
        senders = f"{args.processes} listener process(es), {args.connections} stop-and-wait"
        if args.pipelined:
            senders += f" + {args.pipelined} pipelined (window {args.window})"
        print(f"{args.mix} on {database.split(':')[0]}: {n} messages over {senders} connections "
              f"in {elapsed:.1f} s: {n / elapsed:,.0f} messages/s ({accepted} AA, "
              f"{n - accepted} other)")  # fmt: skip
        print(f"  CPU per message: server {server / n * 1000:.2f} ms, database {pg / n * 1000:.2f} ms, "
              f"client {client / n * 1000:.2f} ms; total {(server + pg + client) / n * 1000:.2f} ms; "
              f"load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        if scratch_postgres:
            _postgres(create=False)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
