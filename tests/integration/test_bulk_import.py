"""``khealth import``: NDJSON and Bundle files, resume, no duplicates, errors by line."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import create_engine, func, select

from khealth.core.errors import InvalidResource
from khealth.ingest.bulk_import import BulkImporter, ImportOptions, ImportStopped, discover
from khealth.records.service import Records, load_json
from khealth.store.schema import job, resource, resource_version
from tests.conftest import shared_data
from tests.support import system_context

pytestmark = pytest.mark.integration


def patient(n: int, **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": f"p{n}", "gender": "female", **extra}


def observation(n: int, patient_id: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": f"o{n}",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "valueQuantity": {"value": 60 + n, "unit": "/min"},
    }


def write_ndjson(path: Path, resources: list[Any]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in resources))
    return path


def importer(records: Records, **options: Any) -> BulkImporter:
    messages: list[str] = []
    imp = BulkImporter(records, system_context(), ImportOptions(**options), report=messages.append)
    imp.messages = messages  # type: ignore[attr-defined]
    return imp


def versions_of(records: Records, resource_type: str, id: str) -> int:
    with records.begin(system_context(), "history") as rs:
        return rs.history(resource_type, id, None, 100, 0)[1]


class StopAfter:
    """A progress sink that fails after ``n`` committed batches (a simulated crash)."""

    def __init__(self, n: int) -> None:
        self.left = n

    def advance(self, nbytes: int, resources: int) -> None:
        if resources:
            self.left -= 1
            if self.left < 0:
                raise KeyboardInterrupt


def test_it_imports_ndjson_keeping_the_ids(records: Records, tmp_path: Path) -> None:
    path = write_ndjson(tmp_path / "Patient.ndjson", [patient(1), patient(2), observation(1, "p1")])
    summary = importer(records, batch_size=2).run([path])
    assert (summary.created, summary.updated, summary.unchanged, summary.failed) == (3, 0, 0, 0)
    with records.begin(system_context(), "read") as rs:
        stored = rs.read("Observation", "o1")
        assert stored.version == 1
        assert load_json(stored.content)["subject"] == {"reference": "Patient/p1"}
        assert [v.id for v in rs.everything("p1", None, [])] == ["p1", "o1"]


def test_a_second_run_skips_finished_files_and_makes_no_new_versions(
    records: Records, tmp_path: Path
) -> None:
    path = write_ndjson(tmp_path / "a.ndjson", [patient(n) for n in range(5)])
    importer(records).run([path])
    again = importer(records).run([path])
    assert (again.files_skipped, again.created, again.updated) == (1, 0, 0)
    # The same resources in another file (new fingerprint): unchanged content keeps its
    # version; only the one that changed gets a second version.
    changed = [patient(n) for n in range(5)]
    changed[3]["gender"] = "male"
    other = write_ndjson(tmp_path / "b.ndjson", changed)
    summary = importer(records).run([other])
    assert (summary.created, summary.updated, summary.unchanged) == (0, 1, 4)
    assert [versions_of(records, "Patient", f"p{n}") for n in range(5)] == [1, 1, 1, 2, 1]


def test_it_resumes_after_an_interruption_without_importing_anything_twice(
    records: Records, tmp_path: Path
) -> None:
    path = write_ndjson(tmp_path / "Patient.ndjson", [patient(n) for n in range(10)])
    first = BulkImporter(records, system_context(), ImportOptions(batch_size=3), StopAfter(2))
    with pytest.raises(KeyboardInterrupt):
        first.run([path])
    assert first.summary.created == 9  # three batches committed; the crash came after
    second = importer(records, batch_size=3).run([path])
    assert (second.created, second.unchanged) == (1, 0)  # resumed after line 9
    assert [versions_of(records, "Patient", f"p{n}") for n in range(10)] == [1] * 10


def test_an_interrupted_batch_leaves_nothing_and_is_redone(
    records: Records, tmp_path: Path
) -> None:
    class FailingRecords(Records):
        calls = 0

        def begin(self, ctx: Any, action: str) -> Any:
            FailingRecords.calls += 1
            if FailingRecords.calls == 3:
                raise KeyboardInterrupt  # killed before the third batch started
            return super().begin(ctx, action)

    path = write_ndjson(tmp_path / "Patient.ndjson", [patient(n) for n in range(6)])
    failing = FailingRecords(records.store, records.clock)
    with pytest.raises(KeyboardInterrupt):
        importer(failing, batch_size=2).run([path])
    summary = importer(records, batch_size=2).run([path])
    assert summary.created == 2
    assert [versions_of(records, "Patient", f"p{n}") for n in range(6)] == [1] * 6


def test_a_bad_line_names_file_and_line_and_stores_nothing_of_its_batch(
    records: Records, tmp_path: Path
) -> None:
    lines = [patient(n) for n in range(6)]
    lines[4]["gender"] = "robot"  # line 5: not in the required AdministrativeGender binding
    path = write_ndjson(tmp_path / "Patient.ndjson", lines)
    with pytest.raises(ImportStopped) as stopped:
        importer(records, batch_size=3).run([path])
    message = stopped.value.summary()
    assert f"{path}:5:" in message and "gender" in message
    assert "robot" not in message  # never the content
    with records.begin(system_context(), "search") as rs:
        present = {i for _, i in rs.s.current_many([("Patient", f"p{n}") for n in range(6)])}
    assert present == {"p0", "p1", "p2"}  # batch 4-6 was rolled back whole


def test_under_skip_a_bad_line_is_reported_and_the_rest_stored(
    records: Records, tmp_path: Path
) -> None:
    path = tmp_path / "Patient.ndjson"
    path.write_bytes(
        orjson.dumps(patient(1))
        + b"\n{not json\n\n"
        + orjson.dumps({"resourceType": "Patient"})
        + b"\n"
        + orjson.dumps(patient(2))
        + b"\n"
    )
    imp = importer(records, on_error="skip")
    summary = imp.run([path])
    assert (summary.created, summary.failed) == (2, 2)
    assert imp.messages == [  # type: ignore[attr-defined]
        f"{path}:2: structure: the line is not valid JSON",
        f"{path}:4: required: an imported resource needs an id (id)",
    ]


def test_a_worker_process_prepares_the_lines_with_the_same_outcome(
    records: Records, tmp_path: Path
) -> None:
    """Preparing in a worker (``workers=1``) stores what preparing here stores: the same
    resources, the same failures at the same lines, a repeated id as a second version."""
    records = Records(records.store)  # the system clock: a worker needs no test module
    lines = [orjson.dumps(patient(n)) for n in range(7)]
    lines += [orjson.dumps(observation(n, f"p{n}")) for n in range(5)]
    lines[2] = b"{not json"
    lines[9] = orjson.dumps({**observation(7, "p1"), "status": "robot"})
    lines.append(orjson.dumps(patient(4, gender="male")))  # p4 again, changed
    path = tmp_path / "mixed.ndjson"
    path.write_bytes(b"\n".join(lines[:5]) + b"\n\n" + b"\n".join(lines[5:]) + b"\n")
    imp = importer(records, workers=1, batch_size=4, on_error="skip")
    summary = imp.run([path])
    assert (summary.created, summary.updated, summary.failed) == (10, 1, 2)
    first, second = imp.messages  # type: ignore[attr-defined]
    assert first == f"{path}:3: structure: the line is not valid JSON"
    assert second.startswith(f"{path}:11: code-invalid: ")
    assert second.endswith(" (Observation.status)") and "robot" not in second
    with records.begin(system_context(), "read") as rs:
        assert load_json(rs.read("Patient", "p4").content)["gender"] == "male"
        assert [v.id for v in rs.everything("p3", None, [])] == ["p3", "o3"]
    assert versions_of(records, "Patient", "p4") == 2
    again = importer(records, workers=1).run([path])
    assert (again.files_skipped, again.created, again.updated) == (1, 0, 0)


def test_with_a_worker_an_interrupted_import_resumes_exactly_once(
    records: Records, tmp_path: Path
) -> None:
    records = Records(records.store)  # the system clock: a worker needs no test module
    path = write_ndjson(tmp_path / "Patient.ndjson", [patient(n) for n in range(20)])
    options = ImportOptions(batch_size=3, workers=1)
    first = BulkImporter(records, system_context(), options, StopAfter(2))
    with pytest.raises(KeyboardInterrupt):
        first.run([path])
    assert first.summary.created == 9
    second = importer(records, batch_size=3, workers=1).run([path])
    assert (second.created, second.unchanged) == (11, 0)
    assert [versions_of(records, "Patient", f"p{n}") for n in range(20)] == [1] * 20


def transaction_bundle() -> dict[str, Any]:
    org = {"resourceType": "Organization", "id": "org1", "name": "Clinic"}
    pat = {"resourceType": "Patient", "id": "11111111-1111-4111-8111-111111111111",
           "managingOrganization": {"reference": "urn:uuid:22222222-2222-4222-8222-222222222222"}}  # fmt: skip
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": "urn:uuid:22222222-2222-4222-8222-222222222222", "resource": org,
             "request": {"method": "POST", "url": "Organization"}},
            {"fullUrl": f"urn:uuid:{pat['id']}", "resource": pat,
             "request": {"method": "POST", "url": "Patient"}},
        ],
    }  # fmt: skip


def test_a_transaction_bundle_imports_with_its_references_resolved(
    records: Records, tmp_path: Path
) -> None:
    path = tmp_path / "bundle.json"
    path.write_bytes(orjson.dumps(transaction_bundle()))
    summary = importer(records).run(discover([tmp_path]))
    assert summary.created == 2
    with records.begin(system_context(), "read") as rs:
        stored = load_json(rs.read("Patient", "11111111-1111-4111-8111-111111111111").content)
    assert stored["managingOrganization"] == {"reference": "Organization/org1"}
    copy = tmp_path / "sub" / "again.json"  # another path, another name: same fingerprint
    copy.parent.mkdir()
    copy.write_bytes(path.read_bytes())
    assert importer(records).run([copy]).files_skipped == 1


def test_a_failing_transaction_stores_none_of_its_entries(records: Records, tmp_path: Path) -> None:
    bundle = transaction_bundle()
    bundle["entry"][1]["resource"]["gender"] = "robot"
    path = tmp_path / "bundle.json"
    path.write_bytes(orjson.dumps(bundle))
    summary = importer(records, on_error="skip").run([path])
    assert (summary.created, summary.failed) == (0, 2)
    with records.begin(system_context(), "read") as rs:
        assert rs.s.current("Organization", "org1") is None


def test_a_collection_bundle_stores_each_resource_under_its_id(
    records: Records, tmp_path: Path
) -> None:
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": patient(1)}, {"resource": observation(1, "p1")}]}  # fmt: skip
    path = tmp_path / "c.json"
    path.write_bytes(orjson.dumps(bundle))
    assert importer(records).run([path]).created == 2


def test_every_synthea_bundle_imports_and_everything_returns_the_patients_bundle(
    records: Records,
) -> None:
    folder = shared_data("synthea-r4")
    files = sorted(folder.glob("*.json"))
    summary = importer(records).run(files)
    assert summary.failed == 0 and summary.created + summary.unchanged == 3195
    for path in files:
        entries = orjson.loads(path.read_bytes())["entry"]
        expected = {(e["resource"]["resourceType"], e["resource"]["id"]) for e in entries}
        (patient_id,) = [i for t, i in expected if t == "Patient"]
        with records.begin(system_context(), "everything") as rs:
            found = {(v.resource_type, v.id) for v in rs.everything(patient_id, None, [])}
        assert found == expected, path.name
    assert importer(records).run(files).files_skipped == 16


# -- the command -----------------------------------------------------------------------
UUID_REF = re.compile(rb'"urn:uuid:([0-9a-f-]{36})"')


def synthea_ndjson(out: Path, copies: int) -> int:
    """The Synthea sample as NDJSON (references as Type/id), ``copies`` times under
    distinct ids: a file big enough to take a few seconds."""
    folder = shared_data("synthea-r4")
    count = 0
    with out.open("wb") as f:
        for path in sorted(folder.glob("*.json")):
            entries = orjson.loads(path.read_bytes())["entry"]
            types = {e["resource"]["id"]: e["resource"]["resourceType"] for e in entries}
            for e in entries:
                raw = orjson.dumps(e["resource"])
                raw = UUID_REF.sub(
                    lambda m: b'"%s/%s"' % (types[m[1].decode()].encode(), m[1]), raw
                )
                for k in range(copies):
                    f.write(re.sub(rb'([":/])([0-9a-f]{8}-[0-9a-f-]{28})"', rb"\1c%d-\2" % k + b'"', raw) + b"\n")  # fmt: skip
                    count += 1
    return count


def khealth(*args: str, db: Path) -> subprocess.Popen[str]:
    command = [str(Path(sys.executable).with_name("khealth")), "import", *args]
    env = {**os.environ, "KHEALTH_DATABASE_URL": f"sqlite:///{db}"}
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def test_the_command_survives_sigkill_and_a_rerun_completes_exactly_once(tmp_path: Path) -> None:
    data = tmp_path / "synthea.ndjson"
    total = synthea_ndjson(data, copies=2)
    db = tmp_path / "k.db"
    killed = khealth(str(data), "--batch-size", "200", "--no-progress", "--workers", "1", db=db)
    engine = create_engine(f"sqlite:///{db}")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and killed.poll() is None:
        time.sleep(0.2)
        try:
            with engine.connect() as conn:
                if conn.execute(select(func.count()).select_from(job)).scalar_one():
                    break  # at least one batch committed
        except Exception:  # the schema is not created yet
            continue
    assert killed.poll() is None, "the import finished before it could be killed"
    workers = _children(killed.pid)
    assert workers, "the import runs its worker process"
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    deadline = time.monotonic() + 30  # the worker sees its stdin close and ends too
    while time.monotonic() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.2)
    assert not any(_alive(w) for w in workers), "a worker outlived the killed import"
    with engine.connect() as conn:
        partial = conn.execute(select(func.count()).select_from(resource)).scalar_one()
    assert 0 < partial < total
    rerun = khealth(str(data), "--no-progress", db=db)
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    assert "0 failed" in out
    unique = len({orjson.loads(line)["id"] for line in data.read_bytes().splitlines()})
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(resource)).scalar_one() == unique
        versions = conn.execute(select(func.max(resource_version.c.version))).scalar_one()
        assert versions == 1  # nothing imported twice
    engine.dispose()


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting for its new parent to reap it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_the_command_stops_at_a_bad_line_with_exit_status_1(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from khealth.cli import commands  # noqa: F401  (registers the commands)
    from khealth.cli.main import app

    path = write_ndjson(tmp_path / "Patient.ndjson", [patient(1), {"resourceType": "Patient"}])
    result = CliRunner().invoke(
        app, ["import", str(path), "--database", f"sqlite:///{tmp_path / 'k.db'}", "--no-progress"]
    )
    assert result.exit_code == 1
    assert f"{path}:2: required: an imported resource needs an id" in result.output
    assert "0 created" in result.output


def test_errors_hold_no_resource_content() -> None:
    from khealth.ingest.bulk_import import issue_text

    error = InvalidResource.of(
        "code-invalid", "value is not in the required binding", "Patient.gender"
    )
    assert (
        issue_text(error) == "code-invalid: value is not in the required binding (Patient.gender)"
    )
