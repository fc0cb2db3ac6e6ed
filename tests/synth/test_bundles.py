"""Per-facility transaction Bundles: complete, valid, postable, deterministic."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson
import pytest

from khealth.fhir.validation import validate_resource
from khealth.records.bundles import run_bundle
from khealth.records.service import Records
from khealth.store.memory import MemoryStore
from khealth.synth import SynthConfig, write_city
from tests.support import FrozenClock, system_context
from tests.synth.helpers import resources

BUNDLED = SynthConfig(
    citizens=60, seed=11, dicom_max_studies=0, emergency_days=0, bundles=True, bundle_size=40
)


@pytest.fixture(scope="module")
def bundled_city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundled")
    write_city(BUNDLED, out, progress=False)
    return out


def _bundles(out: Path) -> list[Path]:
    return sorted((out / "bundles").glob("*/*.json"))


def test_every_resource_of_the_ndjson_is_in_exactly_one_bundle(bundled_city: Path) -> None:
    expected = Counter(f"{r['resourceType']}/{r['id']}" for r in resources(bundled_city))
    seen: Counter[str] = Counter()
    for path in _bundles(bundled_city):
        bundle = orjson.loads(path.read_bytes())
        assert bundle["type"] == "transaction"
        assert 1 <= len(bundle["entry"]) <= BUNDLED.bundle_size
        for entry in bundle["entry"]:
            url = f"{entry['resource']['resourceType']}/{entry['resource']['id']}"
            assert entry["request"] == {"method": "PUT", "url": url}
            assert entry["fullUrl"] == url
            seen[url] += 1
    assert seen == expected
    assert max(expected.values()) == 1
    assert not (bundled_city / "bundles" / ".spill").exists()


def test_a_facility_bundle_starts_with_the_facility_and_holds_only_its_patients(
    bundled_city: Path,
) -> None:
    for folder in sorted(p for p in (bundled_city / "bundles").iterdir()):
        first = orjson.loads((folder / "000001.json").read_bytes())["entry"]
        kinds = [e["resource"]["resourceType"] for e in first]
        assert kinds.count("Organization") == 1
        for path in sorted(folder.glob("*.json")):
            for entry in orjson.loads(path.read_bytes())["entry"]:
                resource = entry["resource"]
                if resource["resourceType"] == "Patient":
                    assert resource["managingOrganization"]["reference"] == (
                        f"Organization/{folder.name}"
                    )
                if resource["resourceType"] == "Encounter":
                    assert resource["serviceProvider"]["reference"] == (
                        f"Organization/{folder.name}"
                    )


def test_bundles_pass_the_store_validator(bundled_city: Path) -> None:
    for path in _bundles(bundled_city):
        bundle = orjson.loads(path.read_bytes())
        assert validate_resource(bundle) == [], path.name


def test_a_facility_s_bundles_post_through_the_record_service_and_repost_idempotently(
    bundled_city: Path,
) -> None:
    records = Records(MemoryStore(), FrozenClock())
    busiest = max(
        (p for p in (bundled_city / "bundles").iterdir()),
        key=lambda p: len(list(p.glob("*.json"))),
    )
    for path in sorted(busiest.glob("*.json")):
        bundle = orjson.loads(path.read_bytes())
        for _ in range(2):
            response = run_bundle(records, system_context(), bundle)
            statuses = {e["response"]["status"].split()[0] for e in response["entry"]}
            assert statuses <= {"200", "201"}
            assert len(response["entry"]) == len(bundle["entry"])
    assert len(list(busiest.glob("*.json"))) > 1  # citizens' records, not only the facility


def test_same_seed_gives_the_same_bundle_bytes(bundled_city: Path, tmp_path: Path) -> None:
    write_city(BUNDLED, tmp_path, progress=False)
    first = {p.relative_to(bundled_city): p.read_bytes() for p in _bundles(bundled_city)}
    again = {p.relative_to(tmp_path): p.read_bytes() for p in _bundles(tmp_path)}
    assert first == again
