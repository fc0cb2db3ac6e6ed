"""The DICOM C-STORE SCP (``khealth serve --dicom-port``) through the real protocol: a
pynetdicom SCU sends pydicom's test files over loopback to the real listener, and QIDO-RS
and WADO-RS find them, filed as the same ImagingStudy STOW-RS makes; C-ECHO; failures are
DIMSE statuses that leave nothing half-stored and keep the association open."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pydicom
import pynetdicom._config
import pytest
from pydicom.uid import generate_uid
from pynetdicom import AE
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from khealth.imaging.dimse import DimseSettings, StoreScp
from khealth.imaging.objectstore import FileObjectStore
from khealth.imaging.service import Imaging
from khealth.web.dicomweb import dicom_index
from tests.integration.test_dicomweb import (
    CT,
    FACILITY,
    JPEG,
    MR,
    MULTIFRAME,
    READER,
    auth,
    header,
    imaging_studies,
    instance_url,
    pydicom_file,
    qido,
    rewritten,
    seed,
    split_multipart,
    values,
)
from tests.support import Api

pytestmark = pytest.mark.integration

JPEG_LS = pydicom_file("MR_small_jpeg_ls_lossless.dcm")  # compressed: kept as sent
MODALITY = "MODALITY_A"


@pytest.fixture(autouse=True)
def send_files_as_they_are(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SCU sends a file's dataset bytes as they are, under its File Meta Information's
    UIDs, instead of decoding and re-encoding it (pynetdicom's chunked sending)."""
    monkeypatch.setattr(pynetdicom._config, "STORE_SEND_CHUNKED_DATASET", True)


@pytest.fixture
def api(store: Any, tmp_path: Path) -> Api:
    seed(store)
    return Api(store, tmp_path)


def start_scp(api: Api, store: Any, objects: Path, **settings: Any) -> StoreScp:
    """A listener over the app's store, sharing its imaging service (one DICOM index)."""
    imaging = Imaging(api.app.state.services.records, dicom_index(store), FileObjectStore(objects))
    api.app.state.imaging = imaging
    options = {"port": 0, "peers": {MODALITY: FACILITY}, "endpoint_address": "http://test/dicomweb", **settings}  # fmt: skip
    return StoreScp(imaging, DimseSettings(**options)).start()


@pytest.fixture
def scp(api: Api, store: Any, tmp_path: Path) -> Iterator[StoreScp]:
    listener = start_scp(api, store, tmp_path / "objects")
    yield listener
    listener.stop()


def dataset_bytes(data: bytes) -> bytes:
    """A Part 10 file's dataset, after its File Meta Information (group length first)."""
    return data[144 + int.from_bytes(data[140:144], "little") :]


class Scu:
    """A modality: one association, the files' SOP classes in their own transfer syntaxes."""

    def __init__(self, port: int, files: list[bytes], calling: str = MODALITY, called: str = "KHEALTH") -> None:  # fmt: skip
        ae = AE(ae_title=calling)
        ae.acse_timeout = ae.dimse_timeout = 120  # a loaded machine is slow, not broken
        ae.add_requested_context(Verification)
        pairs = {(str(header(f).SOPClassUID), str(header(f).file_meta.TransferSyntaxUID)) for f in files}  # fmt: skip
        for sop_class, syntax in sorted(pairs):
            ae.add_requested_context(sop_class, syntax)
        self.assoc = ae.associate("127.0.0.1", port, ae_title=called)

    def store(self, data: bytes, tmp: Path) -> int:
        path = tmp / f"{generate_uid()}.dcm"
        path.write_bytes(data)
        status = self.assoc.send_c_store(path)
        return int(status.Status)

    def store_dataset(self, ds: pydicom.Dataset) -> Any:
        return self.assoc.send_c_store(ds)

    def __enter__(self) -> Scu:
        assert self.assoc.is_established
        return self

    def __exit__(self, *exc: object) -> None:
        self.assoc.release()


def eventually(check: Callable[[], bool]) -> None:
    """The listener files a study when the association closes, in its own thread."""
    deadline = time.monotonic() + 30
    while not check():
        assert time.monotonic() < deadline, "not filed in 30 s"
        time.sleep(0.05)


def test_a_modality_pushes_files_and_dicomweb_finds_them(api: Api, store: Any, scp: StoreScp, tmp_path: Path) -> None:  # fmt: skip
    files = [CT, JPEG_LS, JPEG]
    with Scu(scp.port, files) as scu:
        assert [scu.store(f, tmp_path) for f in files] == [0x0000] * 3
    found = qido(api, PatientID="1CT1")
    assert [values(s, "0020000D")[0] for s in found] == [header(CT).StudyInstanceUID]
    for data in files:
        response = api.client.get(instance_url(data), headers=auth(api, READER))
        (retrieved,) = split_multipart(response)
        assert dataset_bytes(retrieved) == dataset_bytes(data)  # the dataset as sent
        assert header(retrieved).file_meta.TransferSyntaxUID == header(data).file_meta.TransferSyntaxUID  # fmt: skip
    png = api.client.get(instance_url(JPEG_LS) + "/rendered", headers={**auth(api, READER), "Accept": "image/png"})  # fmt: skip
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    studies = {s["subject"]["reference"]: s for s in imaging_studies(store)}
    assert set(studies) == {"Patient/p-ct", "Patient/p-mr", "Patient/p-sc"}
    ct = studies["Patient/p-ct"]
    assert ct["series"][0]["instance"][0]["uid"] == header(CT).SOPInstanceUID
    assert ct["endpoint"][0]["reference"].startswith("Endpoint/")
    assert (
        ct["meta"]["source"] == f"urn:khealth:facility:{FACILITY}"
    )  # held by the sender's facility


def test_c_echo_is_answered(scp: StoreScp) -> None:
    with Scu(scp.port, []) as scu:
        assert scu.assoc.send_c_echo().Status == 0x0000


def test_a_series_over_one_association_is_filed_once_not_per_instance(api: Api, store: Any, scp: StoreScp, tmp_path: Path) -> None:  # fmt: skip
    study, series = generate_uid(), generate_uid()
    slices = [rewritten(CT, InstanceNumber=str(n)) for n in range(1, 26)]
    slices = [_into(s, study, series) for s in slices]
    with Scu(scp.port, slices[:1]) as scu:
        assert {scu.store(s, tmp_path) for s in slices} == {0x0000}

    def filed() -> bool:
        found = [s for s in imaging_studies(store) if s["identifier"][0]["value"] == f"urn:oid:{study}"]  # fmt: skip
        return bool(found) and found[0]["numberOfInstances"] == 25

    eventually(filed)
    (record,) = imaging_studies(store)
    assert [i["number"] for i in record["series"][0]["instance"]] == list(range(1, 26))
    assert int(record["meta"]["versionId"]) <= 2  # created, then completed: not 25 versions
    assert len(qido(api, f"/dicomweb/studies/{study}/instances")) == 25


def _into(data: bytes, study: str, series: str) -> bytes:
    ds = pydicom.dcmread(io.BytesIO(data))
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def test_bad_datasets_fail_with_a_status_and_nothing_half_stored(api: Api, store: Any, scp: StoreScp, tmp_path: Path) -> None:  # fmt: skip
    resident = rewritten(MR, PatientID="9001011234568")
    stranger = rewritten(MR, PatientID="UNKNOWN-9")
    no_study = pydicom.dcmread(io.BytesIO(rewritten(MR)))
    del no_study.StudyInstanceUID
    with Scu(scp.port, [MR]) as scu:
        assert scu.store(resident, tmp_path) == 0xA900
        assert scu.store(stranger, tmp_path) == 0x0110
        answer = scu.store_dataset(no_study)
        assert answer.Status == 0xC000 and "StudyInstanceUID" in answer.ErrorComment
        assert scu.store(MR, tmp_path) == 0x0000  # the association goes on
    assert [s["subject"]["reference"] for s in imaging_studies(store)] == ["Patient/p-mr"]
    assert qido(api, PatientID="UNKNOWN-9") == [] and qido(api, PatientID="9001011234568") == []
    kept = [p.read_bytes() for p in (tmp_path / "objects").rglob("*") if p.is_file()]
    assert not any(b"9001011234568" in k for k in kept)  # a resident number is never kept


def test_a_dataset_that_is_not_the_commanded_instance_is_refused(api: Api, store: Any, scp: StoreScp, tmp_path: Path) -> None:  # fmt: skip
    # A file is sent under the SOP Instance UID of its File Meta Information: make that
    # differ from the dataset's, as a confused sender would.
    ds = pydicom.dcmread(io.BytesIO(CT))
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=False)  # keep the File Meta Information as set
    assert header(out.getvalue()).file_meta.MediaStorageSOPInstanceUID != ds.SOPInstanceUID
    with Scu(scp.port, [CT, MULTIFRAME]) as scu:
        assert scu.store(out.getvalue(), tmp_path) == 0xA900
        # pydicom's rtdose.dcm is such a file: its File Meta names another instance.
        assert header(MULTIFRAME).file_meta.MediaStorageSOPInstanceUID != header(MULTIFRAME).SOPInstanceUID  # fmt: skip
        assert scu.store(MULTIFRAME, tmp_path) == 0xA900
    assert imaging_studies(store) == [] and qido(api) == []


def test_a_study_uid_reused_for_another_patient_is_refused(api: Api, store: Any, scp: StoreScp, tmp_path: Path) -> None:  # fmt: skip
    intruder = _into(rewritten(MR), header(CT).StudyInstanceUID, generate_uid())
    with Scu(scp.port, [CT, MR]) as scu:
        assert scu.store(CT, tmp_path) == 0x0000
        assert scu.store(intruder, tmp_path) == 0x0110
    eventually(lambda: bool(imaging_studies(store)))
    (record,) = imaging_studies(store)
    assert record["subject"]["reference"] == "Patient/p-ct" and record["numberOfInstances"] == 1


def test_unknown_senders_and_wrong_called_titles_are_rejected(scp: StoreScp) -> None:
    assert Scu(scp.port, [CT], calling="STRANGER").assoc.is_rejected
    assert Scu(scp.port, [CT], called="OTHER").assoc.is_rejected


def test_storage_unavailable_is_out_of_resources_and_the_association_goes_on(api: Api, store: Any, tmp_path: Path) -> None:  # fmt: skip
    blocked = tmp_path / "blocked"
    blocked.write_bytes(b"a file where the object store's directory should be")
    listener = start_scp(api, store, blocked)
    try:
        with Scu(listener.port, [CT]) as scu:
            assert scu.store(CT, tmp_path) == 0xA700
            assert scu.assoc.send_c_echo().Status == 0x0000
    finally:
        listener.stop()
    assert imaging_studies(store) == []


# -- khealth serve --dicom-port ----------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_khealth_serve_runs_the_listener(tmp_path: Path) -> None:
    from khealth.access.tokens import TokenService, load_or_create_key
    from khealth.store.factory import open_store

    database = f"sqlite:///{tmp_path / 'served.db'}"
    seeded = open_store(database, migrate=True)
    seed(seeded)
    seeded.close()
    http, dicom = _free_port(), _free_port()
    env = {**os.environ, "KHEALTH_DATA_DIR": str(tmp_path), "KHEALTH_LOG_LEVEL": "WARNING"}
    with (tmp_path / "serve.log").open("ab") as log:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "khealth"), "serve", "--port", str(http),
             "--database", database, "--dicom-port", str(dicom), "--dicom-ae-title", "CITYPACS",
             "--dicom-peer", f"{MODALITY}={FACILITY}"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _wait_for(process, [http, dicom], tmp_path)
        with Scu(dicom, [CT], called="CITYPACS") as scu:
            assert scu.assoc.send_c_echo().Status == 0x0000
            assert scu.store(CT, tmp_path) == 0x0000
        import httpx

        token = TokenService(load_or_create_key(tmp_path), "khealth").issue(
            READER["scope"], subject="carol", role=READER["role"], facility=FACILITY
        )  # fmt: skip
        found = httpx.get(f"http://127.0.0.1:{http}/dicomweb/studies", params={"PatientID": "1CT1"},
                          headers={"Authorization": f"Bearer {token}"}, timeout=30)  # fmt: skip
        assert found.status_code == 200, found.text
        assert [values(s, "0020000D")[0] for s in found.json()] == [header(CT).StudyInstanceUID]
    finally:
        process.terminate()
        process.wait(30)


def _wait_for(process: subprocess.Popen[bytes], ports: list[int], tmp_path: Path) -> None:
    deadline = time.monotonic() + 60
    waiting = list(ports)
    while waiting:
        if process.poll() is not None:
            raise AssertionError((tmp_path / "serve.log").read_text()[-2000:])
        assert time.monotonic() < deadline, "khealth serve did not start"
        try:
            socket.create_connection(("127.0.0.1", waiting[0]), timeout=1).close()
            waiting.pop(0)
        except OSError:
            time.sleep(0.1)
