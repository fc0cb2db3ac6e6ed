"""The floor: the same JSON in a bare table (id, type, content), no validation, no indexes.

Insert: the NDJSON lines in batches of the importer's size, one transaction per batch
(SQLite ``executemany``; PostgreSQL ``COPY``); each line is parsed once for its type and id,
as any importer must.  Read: after the timed insert, a primary key on ``id`` is added and
the same rows an HTTP answer holds are fetched in this process, which is what storage alone
costs for that answer.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson

TABLE = "bench_floor"


@dataclass(frozen=True, slots=True)
class FloorInsert:
    resources: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.resources / self.seconds


class FloorTable(Protocol):
    def insert(self, files: Sequence[Path], batch: int) -> FloorInsert: ...
    def fetch(self, ids: Sequence[str]) -> int: ...
    def close(self) -> None: ...


def _batches(files: Sequence[Path], size: int) -> Iterator[list[tuple[str, str, bytes]]]:
    batch: list[tuple[str, str, bytes]] = []
    for path in files:
        with path.open("rb") as f:
            for line in f:
                resource = orjson.loads(line)
                batch.append((resource["id"], resource["resourceType"], line.rstrip(b"\n")))
                if len(batch) == size:
                    yield batch
                    batch = []
    if batch:
        yield batch


class SqliteFloor:
    """A separate file, with the store's pragmas (WAL, synchronous=NORMAL)."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute(f"CREATE TABLE {TABLE} (id TEXT NOT NULL, type TEXT NOT NULL, content BLOB NOT NULL)")  # fmt: skip

    def insert(self, files: Sequence[Path], batch: int) -> FloorInsert:
        count = 0
        started = time.perf_counter()
        for rows in _batches(files, batch):
            self.conn.execute("BEGIN")
            self.conn.executemany(f"INSERT INTO {TABLE} VALUES (?, ?, ?)", rows)
            self.conn.execute("COMMIT")
            count += len(rows)
        seconds = time.perf_counter() - started
        self.conn.execute(f"CREATE UNIQUE INDEX {TABLE}_id ON {TABLE} (id)")
        return FloorInsert(count, seconds)

    def fetch(self, ids: Sequence[str]) -> int:
        marks = ", ".join("?" for _ in ids)
        sql = f"SELECT content FROM {TABLE} WHERE id IN ({marks})"
        return len(self.conn.execute(sql, list(ids)).fetchall())

    def close(self) -> None:
        self.conn.close()


class PostgresFloor:
    """A table beside the store's in the scratch database."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.conn: Any = psycopg.connect(_libpq_url(url))
        with self.conn.cursor() as cur:
            cur.execute(f"CREATE TABLE {TABLE} (id text NOT NULL, type text NOT NULL, content bytea NOT NULL)")  # fmt: skip
        self.conn.commit()

    def insert(self, files: Sequence[Path], batch: int) -> FloorInsert:
        count = 0
        started = time.perf_counter()
        for rows in _batches(files, batch):
            with self.conn.cursor() as cur, cur.copy(f"COPY {TABLE} (id, type, content) FROM STDIN") as copy:  # fmt: skip
                for row in rows:
                    copy.write_row(row)
            self.conn.commit()
            count += len(rows)
        seconds = time.perf_counter() - started
        with self.conn.cursor() as cur:
            cur.execute(f"ALTER TABLE {TABLE} ADD PRIMARY KEY (id)")
            cur.execute(f"ANALYZE {TABLE}")
        self.conn.commit()
        return FloorInsert(count, seconds)

    def fetch(self, ids: Sequence[str]) -> int:
        with self.conn.cursor() as cur:
            cur.execute(f"SELECT content FROM {TABLE} WHERE id = ANY(%s)", (list(ids),))
            found = len(cur.fetchall())
        self.conn.commit()
        return found

    def close(self) -> None:
        self.conn.close()


def _libpq_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def open_floor(backend: str, scratch: Path, url: str) -> FloorTable:
    if backend == "sqlite":
        return SqliteFloor(scratch / "floor.db")
    return PostgresFloor(url)


def fetch_latencies(floor: FloorTable, id_sets: Sequence[Sequence[str]]) -> list[float]:
    """Milliseconds to fetch each set of rows."""
    samples = []
    for ids in id_sets:
        started = time.perf_counter()
        floor.fetch(ids)
        samples.append((time.perf_counter() - started) * 1000)
    return samples
