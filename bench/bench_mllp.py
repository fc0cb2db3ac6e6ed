"""HL7 v2 over MLLP, sustained: ``khealth serve --mllp-port`` in a subprocess (SQLite by
default, ``--database`` for PostgreSQL), C concurrent senders each sending messages one by
one and waiting for each ACK (original mode, as hospital engines do).  Every AA counted
is durable: the listener answers only after the group commit returned (SQLite
``synchronous=FULL``).

    .venv/bin/python bench/bench_mllp.py [--messages 3000] [--connections 16] [--mix adt|oru|mixed]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests import hl7_messages as m

START, END = b"\x0b", b"\x1c\x0d"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _message(mix: str, i: int) -> bytes:
    if mix == "adt" or (mix == "mixed" and i % 3 == 0):
        return m.adt("A01", f"B{i}", mrn=f"B{i}", visit=f"V{i}")
    if mix == "oru" or i % 3 == 1:
        raw = m.oru(f"B{i}", mrn=f"B{i - 1}")
        return raw.replace(b"F200^LAB", f"F{i}^LAB".encode())
    return m.rde(f"B{i}", mrn=f"B{i - 2}").replace(b"ORD777", f"ORD{i}".encode())


def _sender(port: int, messages: list[bytes], codes: list[str]) -> None:
    sock = socket.create_connection(("127.0.0.1", port))
    buffer = b""
    for raw in messages:
        sock.sendall(START + raw + END)
        while END not in buffer:
            buffer += sock.recv(65536)
        frame, _, buffer = buffer.partition(END)
        codes.append(frame.split(b"MSA|", 1)[1][:2].decode())
    sock.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--mix", choices=["adt", "oru", "mixed"], default="adt")
    parser.add_argument("--database", default="")
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="bench-mllp-"))
    database = args.database or f"sqlite:///{data / 'k.db'}"
    port = _free_port()
    khealth = str(Path(sys.executable).parent / "khealth")
    env = {**os.environ, "KHEALTH_DATA_DIR": str(data), "KHEALTH_LOG_LEVEL": "WARNING"}
    log = (data / "serve.log").open("ab")
    process = subprocess.Popen([khealth, "serve", "--port", str(_free_port()), "--database",
                                database, "--mllp-port", str(port)], env=env, stdout=log,
                               stderr=subprocess.STDOUT)  # fmt: skip
    try:
        for _ in range(600):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        time.sleep(3)  # let uvicorn finish starting beside the listener
        messages = [_message(args.mix, i) for i in range(args.messages)]
        codes: list[str] = []
        shares = [messages[i :: args.connections] for i in range(args.connections)]
        threads = [threading.Thread(target=_sender, args=(port, s, codes)) for s in shares]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        accepted = codes.count("AA")
        print(f"{args.mix}: {len(codes)} messages over {args.connections} connections in "
              f"{elapsed:.1f} s: {len(codes) / elapsed:,.0f} messages/s "
              f"({accepted} AA, {len(codes) - accepted} other)")  # fmt: skip
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)


if __name__ == "__main__":
    main()
