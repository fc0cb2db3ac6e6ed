"""How fast ``khealth audit verify`` checks a log: N synthetic ~600-byte entries with a signed
checkpoint every 1,000, chained into an SQLite file, then streamed and verified as the CLI does.

    .venv/bin/python -m bench.bench_audit_verify [N]   (default 1,000,000)
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from joserfc.jwk import ECKey

from khealth.access.audit_signing import KeyChecker, KeySigner
from khealth.records.audit_chain import GENESIS, entry_hash, make_checkpoint
from khealth.records.audit_verify import verify
from khealth.store.audit_log import load_checkpoints, stream_rows
from khealth.store.engine import make_engine
from khealth.store.migrate import upgrade

EVENT = (b'{"resourceType":"AuditEvent","id":"%08d","type":{"system":"http://terminology.hl7.org/'
         b'CodeSystem/audit-event-type","code":"rest"},"subtype":[{"system":"http://hl7.org/fhir/'
         b'restful-interaction","code":"read"}],"action":"R","recorded":"2026-11-29T09:00:00Z",'
         b'"outcome":"0","agent":[{"who":{"identifier":{"value":"carol"}},"requestor":true,'
         b'"role":[{"text":"clinician"}]}],"source":{"observer":{"display":"khealth"}},'
         b'"entity":[{"what":{"reference":"Observation/%08d"}},{"what":{"reference":"Patient/p%06d"}}]}')  # fmt: skip


def build(path: Path, n: int, key: ECKey) -> None:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    signer, prev, recorded, batch, leaves, first = (
        KeySigner(key),
        GENESIS,
        1_800_000_000_000_000,
        [],
        [],
        1,
    )
    for seq in range(1, n + 1):
        content = EVENT % (seq, seq, seq % 100_000)
        digest = entry_hash(seq, recorded + seq, content, prev)
        batch.append((seq, recorded + seq, content, prev, digest))
        leaves.append(digest)
        prev = digest
        if seq % 1000 == 0:
            c = make_checkpoint(signer, seq, first, recorded + seq, leaves)
            db.execute("INSERT INTO audit_checkpoint VALUES (?,?,?,?,?,?,?)",
                       (c.seq, c.first, c.recorded, c.head_hash, c.root, c.key_id, c.signature))  # fmt: skip
            leaves, first = [], seq + 1
        if len(batch) >= 50_000:
            db.executemany("INSERT INTO audit_log (seq, recorded, content, prev_hash, entry_hash) VALUES (?,?,?,?,?)", batch)  # fmt: skip
            batch = []
    db.executemany("INSERT INTO audit_log (seq, recorded, content, prev_hash, entry_hash) VALUES (?,?,?,?,?)", batch)  # fmt: skip
    db.commit()
    db.close()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    key = ECKey.generate_key("P-256", parameters={"kid": "bench"}, private=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "audit.db"
        started = time.perf_counter()
        build(path, n, key)
        print(f"built {n:,} entries in {time.perf_counter() - started:.1f} s")
        engine = make_engine(f"sqlite:///{path}")
        started = time.perf_counter()
        report = verify(stream_rows(engine), load_checkpoints(engine), KeyChecker([key]))
        elapsed = time.perf_counter() - started
        assert report.ok and report.entries == n, report.findings[:3]
        rate = n / elapsed
        print(f"verified {n:,} entries and {report.checkpoints:,} checkpoints in {elapsed:.1f} s "
              f"({rate:,.0f}/s); 10 million would take {10_000_000 / rate:.0f} s")  # fmt: skip


if __name__ == "__main__":
    main()
