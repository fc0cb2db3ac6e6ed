"""The MLLP listener through real TCP on loopback: framed messages in, ACKs out.

An in-process listener (its own event loop in a thread, as ``khealth serve`` runs it) over
SQLite for the protocol cases; a ``khealth serve --mllp-port`` subprocess killed with
SIGKILL mid-stream for exactly-once delivery; the operator API for dead letters.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hl7.client
import pytest
from sqlalchemy import func, select

from khealth.ingest.hl7v2.message import parse
from khealth.ingest.mllp import END, START, MllpSettings, MllpThread
from khealth.records.service import Records
from khealth.store.factory import open_store
from khealth.store.feeds_sql import open_feed
from khealth.store.schema import hl7_message, resource
from khealth.store.sql import SqlStore
from tests import hl7_messages as m
from tests.conftest import shared_data
from tests.postgres import empty_tables
from tests.support import Api

pytestmark = pytest.mark.integration


class Client:
    """A plain socket MLLP client: frames out, frames in."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buffer = b""

    def send(self, raw: bytes) -> None:
        self.sock.sendall(START + raw + END)

    def receive(self) -> bytes:
        while END not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk
        frame, _, self.buffer = self.buffer.partition(END)
        assert frame.startswith(START)
        return frame[1:]

    def call(self, raw: bytes) -> tuple[str, str, str]:
        self.send(raw)
        return msa(self.receive())

    def close(self) -> None:
        self.sock.close()


def msa(ack: bytes) -> tuple[str, str, str]:
    """(MSA-1, MSA-2, ERR-2)."""
    message = parse(ack)
    seg, err = message.first("MSA"), message.first("ERR")
    assert seg is not None
    return seg.get(1), seg.get(2), err.raw_field(2) if err else ""


@pytest.fixture
def sqlite_store(tmp_path: Path, sqlite_template: Path) -> Iterator[SqlStore]:
    path = tmp_path / "khealth.db"
    shutil.copy(sqlite_template, path)
    store = open_store(f"sqlite:///{path}")
    yield store
    store.close()


@pytest.fixture
def listener(sqlite_store: SqlStore, tmp_path: Path) -> Iterator[tuple[int, SqlStore]]:
    feed = open_feed(sqlite_store, Records(sqlite_store), tmp_path)
    thread = MllpThread(feed, MllpSettings(port=0, frame_timeout=1.0,
                                                       max_message=256 * 1024)).start()  # fmt: skip
    yield thread.server.port, sqlite_store
    thread.stop()


def count(store: SqlStore, resource_type: str | None = None) -> int:
    with store.engine.connect() as conn:
        if resource_type is None:
            return int(conn.execute(select(func.count()).select_from(hl7_message)).scalar_one())
        stmt = select(func.count()).select_from(resource).where(resource.c.type == resource_type)
        return int(conn.execute(stmt).scalar_one())


def test_framed_messages_on_one_connection_are_each_acknowledged(listener: Any) -> None:
    port, store = listener
    client = Client(port)
    assert client.call(m.adt("A01", "T1")) == ("AA", "T1", "")
    assert client.call(m.oru("T2")) == ("AA", "T2", "")
    assert client.call(m.adt("A06", "T3")) == ("AR", "T3", "MSH^1^9")
    assert client.call(m.oru("T4").replace(b"||182|", b"||lots|")) == ("AE", "T4", "OBX^1^5")
    assert client.call(m.rde("T5")) == ("AA", "T5", "")
    client.close()
    assert count(store) == 3 and count(store, "Patient") == 1


def test_python_hl7s_client_gets_its_ack(listener: Any) -> None:
    """An independent MLLP implementation (python-hl7's client) as the sender."""
    port, _ = listener
    with hl7.client.MLLPClient("127.0.0.1", port) as client:
        ack = client.send_message(m.adt("A01", "PY1"))
    assert msa(ack if isinstance(ack, bytes) else ack.encode()) == ("AA", "PY1", "")


def test_a_message_cut_mid_frame_applies_nothing(listener: Any) -> None:
    port, store = listener
    raw = m.adt("A01", "CUT1", mrn="CUT")
    client = Client(port)
    client.sock.sendall(START + raw[: len(raw) // 2])
    client.sock.shutdown(socket.SHUT_WR)  # the sender dies mid-frame
    assert client.sock.recv(100) == b""  # closed without an ACK
    client.close()
    stalled = Client(port)  # a frame left unfinished past the frame timeout
    stalled.sock.sendall(START + raw[:100])
    time.sleep(1.5)
    assert stalled.sock.recv(100) == b""
    stalled.close()
    assert count(store) == 0 and count(store, "Patient") == 0
    assert Client(port).call(raw) == ("AA", "CUT1", "")  # the listener still serves
    assert count(store) == 1


def test_a_frame_over_the_size_limit_closes_the_connection(listener: Any) -> None:
    port, _store = listener
    client = Client(port)
    client.sock.sendall(START + b"MSH|" + b"x" * (300 * 1024) + END)
    with pytest.raises(ConnectionError):
        client.receive()
    assert Client(port).call(m.adt("A01", "OK1")) == ("AA", "OK1", "")


def test_a_repeated_control_id_is_acknowledged_and_applied_once(listener: Any) -> None:
    port, store = listener
    client = Client(port)
    for _ in range(3):
        assert client.call(m.oru("DUP1")) == ("AA", "DUP1", "")
    assert count(store) == 1 and count(store, "Provenance") == 1


def test_every_public_sample_is_answered_and_none_stops_the_listener(listener: Any) -> None:
    port, _store = listener
    folder = shared_data("hl7v2")
    client = Client(port)
    answers = {p.name: client.call(p.read_bytes()) for p in sorted(folder.glob("*.hl7"))}
    client.close()
    assert all(code in ("AA", "AE", "AR") for code, _, _ in answers.values())
    assert all(where for code, _, where in answers.values() if code != "AA")
    assert answers["ADT-A01-01.hl7"][0] == "AA" and answers["SIU-S12-01.hl7"][0] == "AR"
    assert Client(port).call(m.adt("A01", "AFTER")) == ("AA", "AFTER", "")


def test_concurrent_senders_are_group_committed_and_all_applied(listener: Any) -> None:
    port, store = listener
    results: list[tuple[str, str, str]] = []

    def sender(n: int) -> None:
        client = Client(port)
        results.extend(client.call(m.adt("A01", f"G{n}-{i}", mrn=f"G{n}-{i}")) for i in range(20))
        client.close()

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 160 and {r[0] for r in results} == {"AA"}
    assert count(store) == 160 and count(store, "Patient") == 160


def test_a_pipelining_sender_gets_every_ack_in_order(listener: Any) -> None:
    """Frames sent back to back without waiting: answered one by one, in order, a bad one
    in the middle with its own AE."""
    port, store = listener
    raws = [m.adt("A01", f"PL{i}", mrn=f"PL{i}", visit=f"PV{i}") for i in range(60)]
    raws[7] = raws[7].replace(b"|I|W3", b"||W3")
    client = Client(port)
    for raw in raws:
        client.send(raw)
    answers = [msa(client.receive()) for _ in raws]
    client.close()
    assert [control for _, control, _ in answers] == [f"PL{i}" for i in range(60)]
    assert answers[7] == ("AE", "PL7", "PV1^1^2")
    assert all(code == "AA" for i, (code, _, _) in enumerate(answers) if i != 7)
    assert count(store) == 59 and count(store, "Patient") == 59


@pytest.fixture
def postgres_listener(postgres_url: str, tmp_path: Path) -> Iterator[tuple[int, SqlStore]]:
    store = open_store(postgres_url)
    empty_tables(store)
    feed = open_feed(store, Records(store), tmp_path)
    thread = MllpThread(feed, MllpSettings(port=0)).start()
    yield thread.server.port, store
    thread.stop()
    store.close()


def test_concurrent_and_pipelined_senders_over_postgresql(postgres_listener: Any) -> None:
    port, store = postgres_listener
    results: list[tuple[str, str, str]] = []

    def sender(n: int) -> None:
        client = Client(port)
        results.extend(client.call(m.oru(f"Q{n}-{i}", mrn=f"Q{n}")) for i in range(10))
        client.close()

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    pipelined = Client(port)
    for i in range(40):
        pipelined.send(m.adt("A01", f"R{i}", mrn=f"Q{i % 6}", visit=f"RV{i}"))
    results.extend(msa(pipelined.receive()) for _ in range(40))
    pipelined.close()
    for t in threads:
        t.join()
    assert len(results) == 100 and {code for code, _, _ in results} == {"AA"}
    assert count(store) == 100 and count(store, "Patient") == 6  # one per record number
    assert count(store, "Provenance") == 100


# -- a served process killed mid-stream --------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(data_dir: Path, database: str, mllp_port: int, *extra: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "KHEALTH_DATA_DIR": str(data_dir), "KHEALTH_LOG_LEVEL": "WARNING"}
    log = (data_dir / "serve.log").open("ab")
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "khealth"), "serve", "--port", str(_free_port()),
         "--database", database, "--mllp-port", str(mllp_port), *extra],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError((data_dir / "serve.log").read_text()[-2000:])
        try:
            socket.create_connection(("127.0.0.1", mllp_port), timeout=1).close()
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("the MLLP listener did not start")


def _stream(port: int, messages: dict[str, bytes], acked: set[str], senders: int = 4) -> None:
    """Send every message not yet ACKed, on several connections, until done or the server
    goes away; record each AA."""
    pending = [cid for cid in messages if cid not in acked]
    lock = threading.Lock()

    def sender(share: list[str]) -> None:
        try:
            client = Client(port)
            for cid in share:
                code, control, _ = client.call(messages[cid])
                assert code == "AA" and control == cid
                with lock:
                    acked.add(cid)
        except (ConnectionError, OSError):
            return

    threads = [threading.Thread(target=sender, args=(pending[i::senders],)) for i in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_sigkill_mid_stream_then_resend_applies_every_message_exactly_once(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'served.db'}"
    mllp_port = _free_port()
    messages = {f"K{i}": m.adt("A01", f"K{i}", mrn=f"K{i}") for i in range(200)}
    acked: set[str] = set()
    process = _serve(tmp_path, database, mllp_port)

    def kill_mid_stream() -> None:  # once some messages are in, while the rest are in flight
        deadline = time.monotonic() + 60
        while len(acked) < 40 and time.monotonic() < deadline:
            time.sleep(0.001)
        os.kill(process.pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_mid_stream)
    killer.start()
    _stream(mllp_port, messages, acked)
    killer.join()
    process.wait()
    assert 0 < len(acked) < len(messages), "the kill should land mid-stream"
    acked_before = set(acked)
    process = _serve(tmp_path, database, mllp_port)
    try:
        _stream(mllp_port, messages, acked)  # the sender resends everything un-ACKed
    finally:
        process.terminate()
        process.wait(30)
    assert acked == set(messages)
    store = open_store(database)
    try:
        assert count(store) == len(messages)  # each control id applied once
        assert count(store, "Patient") == len(messages)
        assert count(store, "Provenance") == len(messages)
        with store.engine.connect() as conn:
            applied = set(conn.execute(select(hl7_message.c.control_id)).scalars())
        assert acked_before <= applied  # nothing acknowledged was lost
    finally:
        store.close()


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(child) for child in text.split()]


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_listener_processes_share_the_port_and_apply_each_message_once(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """``--mllp-processes 2``: a second listener process takes its share of the
    connections; messages about the same patients arrive on connections held by different
    processes and still make one Patient each; the listener ends with the serve process."""
    if backend == "sqlite":
        database = f"sqlite:///{tmp_path / 'served.db'}"
    else:
        database = request.getfixturevalue("postgres_url")
        emptied = open_store(database)
        empty_tables(emptied)
        emptied.close()
    mllp_port = _free_port()
    process = _serve(tmp_path, database, mllp_port, "--mllp-processes", "2")
    try:
        (child,) = [c for c in _children(process.pid)
                    if b"mllp_processes" in Path(f"/proc/{c}/cmdline").read_bytes()]  # fmt: skip
        busy_before = _cpu_seconds(child)
        messages = {}
        for i in range(60):  # each patient's three messages go out on different connections
            messages[f"A{i}"] = m.adt("A01", f"A{i}", mrn=f"MP{i}", visit=f"V{i}")
            messages[f"R{i}"] = m.oru(f"R{i}", mrn=f"MP{i}")
            messages[f"O{i}"] = m.rde(f"O{i}", mrn=f"MP{i}")
        acked: set[str] = set()
        _stream(mllp_port, messages, acked, senders=12)
        assert acked == set(messages)
        assert _cpu_seconds(child) - busy_before > 0.05, "the second process took no share"
    finally:
        process.kill()  # SIGKILL: the listener process must not outlive it
        process.wait()
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{child}").exists() or b"(Z)" in Path(f"/proc/{child}/stat").read_bytes()  # fmt: skip
    store = open_store(database)
    try:
        assert count(store, "Patient") == 60
        assert count(store, "Provenance") == len(messages)
        with store.engine.connect() as conn:
            applied = list(conn.execute(select(hl7_message.c.control_id)).scalars())
        assert sorted(applied) == sorted(messages)
    finally:
        store.close()


# -- the operator API --------------------------------------------------------------------
def test_operators_list_and_replay_dead_letters_and_see_feed_health(
    store: Any, tmp_path: Path
) -> None:
    api = Api(store, tmp_path)
    olivia = api.headers(scope="system/*.cruds", subject="olivia", role="operator")
    from khealth.web.feeds_api import feed

    class _Request:
        app = api.app

    hl7_feed = feed(_Request())  # type: ignore[arg-type]
    hl7_feed.handle(m.adt("A01", "W1"))
    bad = m.merge("W2", survivor="NEW", old="OLD").replace(b"MRG|OLD^^^GJH^MR", b"MRG|")
    assert msa(hl7_feed.handle(bad))[0] == "AE"
    listed = api.client.get("/api/feeds/dead-letters", headers=olivia)
    assert listed.status_code == 200
    (letter,) = listed.json()["deadLetters"]
    assert letter["controlId"] == "W2" and letter["error"].startswith("MRG^1^1")
    assert letter["ack"] == "AE" and "sealed" not in letter
    replayed = api.client.post(f"/api/feeds/dead-letters/{letter['id']}/replay", headers=olivia)
    assert replayed.status_code == 200 and replayed.json()["applied"] is False
    assert api.client.post("/api/feeds/dead-letters/999/replay", headers=olivia).status_code == 404
    carol = api.headers(scope="user/*.cruds", subject="carol", role="clinician")
    assert api.client.get("/api/feeds/dead-letters", headers=carol).status_code == 403
    assert api.client.get("/api/feeds/health").status_code == 401
    health = api.client.get("/api/feeds/health", headers=olivia).json()["facilities"]
    (gjh,) = [f for f in health if f["facility"] == "1.2.410.200.1"]
    assert gjh["acceptedLastDay"] == 1 and gjh["errorsLastDay"] == 1
    assert gjh["errorRateLastDay"] == 0.5 and gjh["lastReceived"] is not None


def test_a_replay_after_the_cause_is_fixed_applies_the_message(store: Any, tmp_path: Path) -> None:
    from khealth.ingest.hl7v2.model import DeadLetter
    from khealth.web.feeds_api import feed

    api = Api(store, tmp_path)
    olivia = api.headers(scope="system/*.cruds", subject="olivia", role="operator")

    class _Request:
        app = api.app

    hl7_feed = feed(_Request())  # type: ignore[arg-type]
    # a letter whose cause has since gone (say, a mapping fixed in a release)
    sealed = hl7_feed.sealer.seal(m.oru("F1"))
    letter_id = hl7_feed.ledger.add_dead_letter(
        DeadLetter(0, 1, "1.2.410.200.1", "ORU^R01", "F1", "AE", "OBX^1^5: test", sealed, "new", 1)
    )
    done = api.client.post(f"/api/feeds/dead-letters/{letter_id}/replay", headers=olivia).json()
    assert done["applied"] is True and done["ack"] == "AA"
    assert done["deadLetter"]["state"] == "replayed"
    listed = api.client.get("/api/feeds/dead-letters", headers=olivia).json()["deadLetters"]
    assert all(d["id"] != letter_id for d in listed)
    again = api.client.post(f"/api/feeds/dead-letters/{letter_id}/replay", headers=olivia).json()
    assert again["applied"] is True  # a second replay is a repeat: acknowledged, not applied
