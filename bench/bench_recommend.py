"""Destination ranking latency: `.venv/bin/python bench/bench_recommend.py`.

Loads the synthetic city's facilities (seed 1) into a fresh SQLite store (or ``--database``), gives
every emergency facility a live status, then times (a) ``EmergencyService.recommend`` — the
directory (cached), the newest status of every facility and the recent refusals read from the
database, travel estimates and ranking — and (b) the whole ``POST /api/emergency/recommendations``
through the app (JSON, token check, triage, ranking). Target (issue 6): one recommendation over
all facilities p95 ≤ 50 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import tempfile
import time
from pathlib import Path

from khealth.access.context import AccessContext, Role
from khealth.access.scopes import parse_scopes
from khealth.core.config import Settings
from khealth.emergency.destination import RoutingNeed
from khealth.emergency.model import Capability, Pathway
from khealth.emergency.travel import Point
from khealth.records.service import Records
from khealth.store.factory import open_store
from khealth.synth.city import City
from khealth.synth.config import SynthConfig
from khealth.web.app import create_app

SYSTEM = AccessContext("bench", Role.SERVICE, parse_scopes("system/*.cruds"))
NEEDS = [
    RoutingNeed(Pathway.STEMI, frozenset({Capability.PCI}), 90, dt.datetime.now(dt.UTC)),
    RoutingNeed(
        Pathway.STROKE_LVO, frozenset({Capability.THROMBECTOMY}), 300, dt.datetime.now(dt.UTC)
    ),
    RoutingNeed(
        Pathway.MAJOR_TRAUMA, frozenset({Capability.TRAUMA_CENTRE}), 60, dt.datetime.now(dt.UTC)
    ),
    RoutingNeed(None, frozenset(), None, dt.datetime.now(dt.UTC)),
]


def percentiles(samples: list[float]) -> str:
    q = statistics.quantiles(samples, n=100)
    return f"p50 {q[49]:.2f} ms, p95 {q[94]:.2f} ms, p99 {q[98]:.2f} ms, max {max(samples):.2f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", help="SQLAlchemy URL (default: a temporary SQLite file)")
    parser.add_argument("--rounds", type=int, default=1000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="khealth-bench-"))
    store = open_store(args.database or f"sqlite:///{tmp / 'bench.db'}", migrate=True)
    city = City(SynthConfig(citizens=0, seed=1))
    with Records(store).begin(SYSTEM, "load") as rs:
        rs.upsert_many(list(city.facility_resources()))
    app = create_app(Settings(data_dir=tmp, database_url="sqlite:///unused"), store=store)
    from fastapi.testclient import TestClient

    client = TestClient(app)
    token = app.state.services.tokens.issue("system/*.cruds")
    headers = {"Authorization": f"Bearer {token}"}
    rng = random.Random(1)
    emergency = [f for f in city.facilities if f.emergency_tier]
    for f in emergency:  # a status for every facility, and a few history rows each
        for _ in range(5):
            body = {"hvec": rng.randint(-2, 10), "MKioskTy1": rng.choice("YN"), "MKioskTy28": "Y",
                    "hvctayn": "Y", "hvangioayn": rng.choice("YN"), "on_call": {"01": True}}  # fmt: skip
            client.put(f"/api/emergency/facilities/{f.id}/status", json=body, headers=headers)
    service = app.state.emergency.service
    print(f"facilities: {len(service.directory.all())} emergency of {len(city.facilities)} in the city")  # fmt: skip

    def origin() -> Point:
        return Point(35.10 + rng.random() * 0.15, 126.75 + rng.random() * 0.2)

    domain = []
    for n in range(args.rounds):
        started = time.perf_counter()
        service.recommend(NEEDS[n % len(NEEDS)], origin())
        domain.append((time.perf_counter() - started) * 1000)
    print(f"EmergencyService.recommend ({args.rounds}): {percentiles(domain)}")

    assessment = {"age": 67, "sex": "male", "chief_complaint": "흉통", "systolic_bp": 105,
                  "heart_rate": 115, "respiratory_rate": 22, "spo2": 95, "stemi_ecg": True}  # fmt: skip
    http = []
    for _ in range(args.rounds):
        p = origin()
        body = {"assessment": assessment, "location": {"lat": p.latitude, "lon": p.longitude}}
        started = time.perf_counter()
        r = client.post("/api/emergency/recommendations", json=body, headers=headers)
        http.append((time.perf_counter() - started) * 1000)
        assert r.status_code == 200, r.text
    print(f"POST /api/emergency/recommendations ({args.rounds}): {percentiles(http)}")
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
