"""HTTP measurements against a real ``khealth serve`` (uvicorn) on a free loopback port."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from bench.dataset import TRANSACTION_BASE, BundleTemplate, renamer
from bench.measure import KHEALTH, Latency

FHIR_JSON = "application/fhir+json"
POST_HEADERS = {"Content-Type": FHIR_JSON}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``khealth serve`` in a child process; its log goes to a file of the scratch dir."""

    def __init__(self, url: str, env: dict[str, str], log: Path, workers: int = 1) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.command = [str(KHEALTH), "serve", "--port", str(self.port), "--database", url,
                        "--workers", str(workers)]  # fmt: skip
        self.env = env
        self.log = log
        self.child: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        with self.log.open("ab") as out:
            self.child = subprocess.Popen(
                self.command, stdout=out, stderr=subprocess.STDOUT, env=self.env,
                start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.child.poll() is not None:
                raise RuntimeError(
                    f"khealth serve exited ({self.child.returncode}); see {self.log}"
                )
            try:
                if httpx.get(f"{self.base}/health", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        raise RuntimeError("khealth serve did not become ready in 180 s")

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.child is None:
            return
        os.killpg(self.child.pid, signal.SIGTERM)  # its own session: uvicorn and its workers
        try:
            self.child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.child.pid, signal.SIGKILL)
            self.child.wait()


def client(base: str, token: str, timeout: float = 120) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}", "Accept": FHIR_JSON}
    return httpx.Client(base_url=f"{base}/fhir", headers=headers, timeout=timeout)


def time_gets(
    http: httpx.Client,
    paths: Sequence[str],
    max_seconds: float,
    check: Callable[[Any], None] | None = None,
) -> Latency:
    """GET each path in turn (one connection, no overlap) until done or out of time; a
    request that times out ends the phase."""
    samples: list[float] = []
    errors = 0
    deadline = time.monotonic() + max_seconds
    for path in paths:
        if time.monotonic() > deadline:
            break
        started = time.perf_counter()
        try:
            response = http.get(path)
        except httpx.TimeoutException:
            return Latency(tuple(samples), errors, timeouts=1)  # later ones would queue behind it
        except httpx.TransportError:
            errors += 1
            continue
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            errors += 1
            continue
        if check is not None:
            check(response)
        samples.append(elapsed)
    return Latency(tuple(samples), errors)


@dataclass(frozen=True, slots=True)
class TransactionRun:
    bundles: int
    resources: int
    seconds: float
    errors: int
    threads: int

    @property
    def rate(self) -> float:
        return self.resources / self.seconds if self.seconds else float("nan")


def post_transactions(
    base: str,
    token: str,
    templates: Sequence[BundleTemplate],
    threads: int,
    max_bundles: int,
    max_seconds: float,
) -> TransactionRun:
    """``threads`` clients POST transaction Bundles (every uuid fresh) until ``max_bundles``
    are sent or time is up; resources/s counts the entries of Bundles answered 200."""
    numbers = itertools.count(TRANSACTION_BASE)
    lock = threading.Lock()
    totals = {"bundles": 0, "resources": 0, "errors": 0}
    deadline = time.monotonic() + max_seconds

    def next_body() -> tuple[bytes, int] | None:
        with lock:
            sent = totals["bundles"] + totals["errors"]
            if sent >= max_bundles or time.monotonic() > deadline:
                return None
            n = next(numbers)
            template = templates[(n - TRANSACTION_BASE) % len(templates)]
            totals["bundles"] += 1  # reserved; moved to errors on failure
        return template.template.render(renamer(n)), template.entries

    def work() -> None:
        with client(base, token) as http:
            while (job := next_body()) is not None:
                body, entries = job
                try:
                    response = http.post(f"{base}/fhir", content=body, headers=POST_HEADERS)
                    ok = response.status_code == 200
                except httpx.TransportError:
                    ok = False
                with lock:
                    if ok:
                        totals["resources"] += entries
                    else:
                        totals["bundles"] -= 1
                        totals["errors"] += 1

    started = time.perf_counter()
    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    seconds = time.perf_counter() - started
    return TransactionRun(
        totals["bundles"], totals["resources"], seconds, totals["errors"], threads
    )
