"""DICOMweb at /dicomweb through the real app, with a hand-written client: pydicom's own test
files and the synthetic city's stored (STOW-RS), found (QIDO-RS), retrieved byte for byte, as
metadata and rendered (WADO-RS); each study filed as an ImagingStudy on its Patient with the
platform's Endpoint; tokens, scopes and patient compartments enforced; every access audited."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from khealth.records.service import Records, load_json
from tests.support import Api, FrozenClock, system_context

pytestmark = pytest.mark.integration

FACILITY = "org-a"
FACILITY_CODE = "99000001"
MRN = f"https://khealth.example.org/fhir/sid/mrn/{FACILITY_CODE}"
PACS = {"scope": "system/ImagingStudy.crus", "subject": "pacs-a", "role": "hospital-system", "facility": FACILITY}  # fmt: skip
READER = {"scope": "user/ImagingStudy.rs", "subject": "carol", "role": "clinician", "facility": FACILITY}  # fmt: skip
# pydicom's files: PatientID → the Patient the test registers for it.
PATIENTS = {"1CT1": "p-ct", "4MR1": "p-mr", "ID1": "p-sc", "id11111": "p-rt", "8NM1": "p-nm"}


def pydicom_file(name: str) -> bytes:
    path = get_testdata_file(name)  # each of these ships in the wheel (no download)
    assert path is not None
    return Path(str(path)).read_bytes()


CT, MR = pydicom_file("CT_small.dcm"), pydicom_file("MR_small.dcm")
MULTIFRAME = pydicom_file("rtdose.dcm")  # 15 frames, uncompressed
RLE_RGB = pydicom_file("SC_rgb_rle_2frame.dcm")  # 2 RGB frames, RLE (decoded by pydicom itself)
JPEG = pydicom_file("SC_rgb_jpeg_dcmtk.dcm")  # JPEG baseline (lossy), decoded by Pillow


def header(data: bytes) -> pydicom.Dataset:
    return pydicom.dcmread(__import__("io").BytesIO(data), stop_before_pixels=True)


def seed(store: Any) -> None:
    records = Records(store, FrozenClock())
    with records.begin(system_context(), "create") as rs:
        rs.update("Organization", FACILITY, {
            "resourceType": "Organization", "id": FACILITY, "name": "Test Hospital",
            "identifier": [{"system": "https://khealth.example.org/fhir/sid/hira-facility-code", "value": FACILITY_CODE}],
        })  # fmt: skip
        for mrn, pid in PATIENTS.items():
            rs.update("Patient", pid, {
                "resourceType": "Patient", "id": pid, "name": [{"text": "테스트"}],
                "identifier": [{"system": MRN, "value": mrn}],
            })  # fmt: skip


@pytest.fixture
def api(store: Any, tmp_path: Path) -> Api:
    seed(store)
    return Api(store, tmp_path)


def auth(api: Api, claims: dict[str, Any]) -> dict[str, str]:
    claims = dict(claims)
    return {"Authorization": f"Bearer {api.token(claims.pop('scope'), **claims)}"}


def multipart(parts: list[bytes], part_type: str = "application/dicom") -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        b"".join(
            f"--{boundary}\r\nContent-Type: {part_type}\r\n\r\n".encode() + p + b"\r\n"
            for p in parts
        )
        + f"--{boundary}--\r\n".encode()
    )
    return body, f'multipart/related; type="application/dicom"; boundary={boundary}'


def stow(
    api: Api, parts: list[bytes], claims: dict[str, Any] = PACS, study: str | None = None
) -> Any:
    body, content_type = multipart(parts)
    url = "/dicomweb/studies" + (f"/{study}" if study else "")
    return api.client.post(url, content=body, headers={**auth(api, claims), "Content-Type": content_type, "Accept": "application/dicom+json"})  # fmt: skip


def split_multipart(response: Any) -> list[bytes]:
    content_type = response.headers["content-type"]
    assert (
        content_type.startswith("multipart/related") and 'type="application/dicom"' in content_type
    )
    boundary = content_type.split("boundary=")[1].strip('"').encode()
    chunks = response.content.split(b"--" + boundary)[1:-1]
    return [c.split(b"\r\n\r\n", 1)[1][: -len(b"\r\n")] for c in chunks]


def values(item: dict[str, Any], tag: str) -> list[Any]:
    return list(item.get(tag, {}).get("Value", []))


def qido(api: Api, path: str = "/dicomweb/studies", claims: dict[str, Any] = READER, **params: Any) -> Any:  # fmt: skip
    response = api.client.get(path, params=params, headers=auth(api, claims))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/dicom+json")
    return response.json()


def imaging_studies(store: Any) -> list[dict[str, Any]]:
    from khealth.fhir.search_parse import parse_search

    with Records(store, FrozenClock()).begin(system_context(), "search-type") as rs:
        found = rs.search(parse_search("ImagingStudy", [("_count", "100")]))
        return [load_json(v.content) for v in found.page.matches]


# -- STOW-RS ------------------------------------------------------------------------------------
def test_a_pacs_stores_pydicom_files_and_every_instance_is_referenced(api: Api) -> None:
    response = stow(api, [CT, MR, MULTIFRAME, RLE_RGB])
    assert response.status_code == 200, response.text
    answer = response.json()
    stored = values(answer, "00081199")
    assert {values(s, "00081155")[0] for s in stored} == {header(f).SOPInstanceUID for f in (CT, MR, MULTIFRAME, RLE_RGB)}  # fmt: skip
    assert all(values(s, "00081190")[0].startswith("http://test/dicomweb/studies/") for s in stored)
    assert "00081198" not in answer


def test_each_study_becomes_an_imaging_study_on_its_patient_with_the_endpoint(api: Api, store: Any) -> None:  # fmt: skip
    assert stow(api, [CT, MR]).status_code == 200
    studies = {s["subject"]["reference"]: s for s in imaging_studies(store)}
    assert set(studies) == {"Patient/p-ct", "Patient/p-mr"}
    ct = studies["Patient/p-ct"]
    assert {"system": "urn:dicom:uid", "value": f"urn:oid:{header(CT).StudyInstanceUID}"} in ct["identifier"]  # fmt: skip
    assert ct["modality"][0]["code"] == "CT" and ct["numberOfInstances"] == 1
    assert ct["series"][0]["instance"][0]["uid"] == header(CT).SOPInstanceUID
    endpoint_id = ct["endpoint"][0]["reference"].split("/")[1]
    with Records(store, FrozenClock()).begin(system_context(), "read") as rs:
        endpoint = load_json(rs.read("Endpoint", endpoint_id).content)
    assert endpoint["connectionType"]["code"] == "dicom-wado-rs"
    assert endpoint["address"] == "http://test/dicomweb"
    assert studies["Patient/p-mr"]["endpoint"] == ct["endpoint"]  # one Endpoint for the platform


def test_a_repeated_store_adds_nothing(api: Api, store: Any) -> None:
    assert stow(api, [CT]).status_code == 200
    before = imaging_studies(store)
    again = stow(api, [CT, CT])
    assert again.status_code == 200, again.text
    assert imaging_studies(store) == before  # same ImagingStudy, same version
    found = qido(api, f"/dicomweb/studies/{header(CT).StudyInstanceUID}/instances")
    assert len(found) == 1


def test_a_non_dicom_part_fails_alone_with_a_reason(api: Api) -> None:
    response = stow(api, [b"this is not DICOM", CT])
    assert response.status_code == 202, response.text
    (failed,) = values(response.json(), "00081198")
    assert values(failed, "00081197") == [0xC000]
    assert "not a DICOM Part 10 file" in values(failed, "00000902")[0]
    assert len(values(response.json(), "00081199")) == 1


def test_when_nothing_is_stored_the_answer_is_409(api: Api) -> None:
    response = stow(api, [b"junk", b"more junk"])
    assert response.status_code == 409
    assert len(values(response.json(), "00081198")) == 2


def test_a_store_to_a_study_url_refuses_instances_of_another_study(api: Api) -> None:
    response = stow(api, [CT, MR], study=header(CT).StudyInstanceUID)
    assert response.status_code == 202
    (failed,) = values(response.json(), "00081198")
    assert values(failed, "00081155") == [header(MR).SOPInstanceUID]
    assert values(failed, "00081197") == [0xA900]


def test_an_instance_whose_patient_is_not_registered_is_refused(api: Api, store: Any) -> None:
    ds = header(MR)
    ds.PatientID = "UNKNOWN-9"
    response = stow(api, [rewritten(MR, PatientID="UNKNOWN-9")])
    assert response.status_code == 409
    (failed,) = values(response.json(), "00081198")
    assert values(failed, "00081197") == [0x0110]
    assert "no Patient" in values(failed, "00000902")[0]
    assert imaging_studies(store) == []


def test_a_resident_number_as_patient_id_is_refused_and_not_kept(api: Api, tmp_path: Path) -> None:
    response = stow(api, [rewritten(MR, PatientID="9001011234568")])
    assert response.status_code == 409
    assert values(values(response.json(), "00081198")[0], "00081197") == [0xA900]
    assert not list((tmp_path / "objects").rglob("*")) or all(p.is_dir() for p in (tmp_path / "objects").rglob("*"))  # fmt: skip


def test_a_store_without_a_multipart_body_is_415(api: Api) -> None:
    response = api.client.post("/dicomweb/studies", content=CT, headers={**auth(api, PACS), "Content-Type": "application/dicom"})  # fmt: skip
    assert response.status_code == 415


def rewritten(data: bytes, **changes: str) -> bytes:
    import io

    ds = pydicom.dcmread(io.BytesIO(data))
    for keyword, value in changes.items():
        setattr(ds, keyword, value)
    ds.SOPInstanceUID = pydicom.uid.generate_uid()
    ds.StudyInstanceUID = pydicom.uid.generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


# -- QIDO-RS ------------------------------------------------------------------------------------
def test_qido_finds_studies_by_patient_date_range_and_modality(api: Api) -> None:
    assert stow(api, [CT, MR, MULTIFRAME]).status_code == 200
    ct_study, mr_study = header(CT).StudyInstanceUID, header(MR).StudyInstanceUID
    by_patient = qido(api, PatientID="1CT1")
    assert [values(s, "0020000D")[0] for s in by_patient] == [ct_study]
    assert values(by_patient[0], "00080061") == ["CT"]
    assert values(by_patient[0], "00201208") == [1]
    ct_date = header(CT).StudyDate
    in_range = qido(api, StudyDate=f"{ct_date}-{ct_date}")
    assert ct_study in [values(s, "0020000D")[0] for s in in_range]
    before = qido(api, StudyDate=f"-{int(ct_date) - 1}")
    assert ct_study not in [values(s, "0020000D")[0] for s in before]
    by_modality = qido(api, ModalitiesInStudy="MR")
    assert [values(s, "0020000D")[0] for s in by_modality] == [mr_study]
    assert len(qido(api, limit=1)) == 1 and len(qido(api, limit=1, offset=1)) == 1
    assert len(qido(api)) == 3


def test_qido_includefield_adds_attributes(api: Api) -> None:
    stow(api, [CT])
    (plain,) = qido(api, PatientID="1CT1")
    (more,) = qido(api, PatientID="1CT1", includefield="PatientAge")
    assert "00101010" not in plain and values(more, "00101010") == ["000Y"]
    (everything,) = qido(api, PatientID="1CT1", includefield="all")
    assert len(everything) > len(plain)


def test_qido_series_and_instances_of_a_study(api: Api) -> None:
    stow(api, [MULTIFRAME])
    ds = header(MULTIFRAME)
    (series,) = qido(api, f"/dicomweb/studies/{ds.StudyInstanceUID}/series")
    assert values(series, "0020000E") == [ds.SeriesInstanceUID]
    assert values(series, "00080060") == [ds.Modality]
    (instance,) = qido(api, f"/dicomweb/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}/instances")  # fmt: skip
    assert values(instance, "00080018") == [ds.SOPInstanceUID]
    assert values(instance, "00280008") == [15]


def test_a_bad_study_date_names_the_parameter(api: Api) -> None:
    response = api.client.get("/dicomweb/studies", params={"StudyDate": "2004-01"}, headers=auth(api, READER))  # fmt: skip
    assert response.status_code == 400
    assert response.json()["errors"][0]["pointer"] == "StudyDate"


# -- WADO-RS ------------------------------------------------------------------------------------
def instance_url(data: bytes) -> str:
    ds = header(data)
    return f"/dicomweb/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}/instances/{ds.SOPInstanceUID}"  # fmt: skip


def test_wado_returns_the_instance_byte_for_byte(api: Api) -> None:
    stow(api, [CT, MULTIFRAME])
    for data in (CT, MULTIFRAME):
        response = api.client.get(instance_url(data), headers={**auth(api, READER), "Accept": 'multipart/related; type="application/dicom"'})  # fmt: skip
        assert response.status_code == 200, response.text
        assert split_multipart(response) == [data]
    study = api.client.get(f"/dicomweb/studies/{header(CT).StudyInstanceUID}", headers=auth(api, READER))  # fmt: skip
    assert split_multipart(study) == [CT]


def test_wado_metadata_is_dicom_json_with_pixel_data_by_reference(api: Api) -> None:
    stow(api, [CT])
    response = api.client.get(instance_url(CT) + "/metadata", headers=auth(api, READER))
    assert response.status_code == 200
    (meta,) = response.json()
    assert values(meta, "00100020") == ["1CT1"]
    assert values(meta, "00280010") == [128] and values(meta, "00280011") == [128]
    pixel_uri = meta["7FE00010"]["BulkDataURI"]
    bulk = api.client.get(pixel_uri.removeprefix("http://test"), headers=auth(api, READER))
    assert bulk.status_code == 200 and len(bulk.content) > 128 * 128 * 2


def picture(response: Any, media_type: str = "image/png") -> Any:
    """The rendered image as a browser would decode it: (rows, columns, channels) bytes."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == media_type
    image = Image.open(io.BytesIO(response.content))
    assert image.format == {"image/png": "PNG", "image/jpeg": "JPEG"}[media_type]
    pixels = np.asarray(image)
    return pixels if pixels.ndim == 3 else pixels[:, :, None]


@pytest.mark.parametrize(
    ("data", "frame", "size", "channels"),
    [(CT, 1, (128, 128), 1), (MR, 1, (64, 64), 1), (MULTIFRAME, 3, (10, 10), 1), (RLE_RGB, 2, (100, 100), 3)],
)  # fmt: skip
def test_rendered_frames_decode_with_the_right_size(api: Api, data: bytes, frame: int, size: tuple[int, int], channels: int) -> None:  # fmt: skip
    stow(api, [data])
    response = api.client.get(f"{instance_url(data)}/frames/{frame}/rendered", headers={**auth(api, READER), "Accept": "image/png"})  # fmt: skip
    pixels = picture(response)
    assert pixels.shape == (*size, channels)
    assert pixels.max() > pixels.min()  # an image, not a blank


def test_a_frame_past_the_last_is_404(api: Api) -> None:
    stow(api, [MULTIFRAME])
    response = api.client.get(f"{instance_url(MULTIFRAME)}/frames/16/rendered", headers=auth(api, READER))  # fmt: skip
    assert response.status_code == 404


def rendered(api: Api, data: bytes, accept: str | None = None, frame: int | None = None, **params: Any) -> Any:  # fmt: skip
    path = instance_url(data) + (f"/frames/{frame}" if frame else "") + "/rendered"
    headers = auth(api, READER) | ({"Accept": accept} if accept is not None else {})
    return api.client.get(path, params=params, headers=headers)


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        (None, "image/jpeg"),  # PS3.18: image/jpeg is the default rendered media type
        ("*/*", "image/jpeg"),
        ("image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8", "image/jpeg"),  # a browser's <img>
        ("image/png", "image/png"),
        ("image/jpeg;q=0.5, image/png", "image/png"),
        ("image/*, image/jpeg;q=0", "image/png"),
        ("image/png;q=0.2, image/jpeg", "image/jpeg"),
    ],
)  # fmt: skip
def test_rendered_media_type_follows_the_accept_header(api: Api, accept: str | None, media_type: str) -> None:  # fmt: skip
    stow(api, [CT])
    response = rendered(api, CT, accept)
    assert picture(response, media_type).shape == (128, 128, 1)
    assert "accept" in response.headers["vary"].lower()


@pytest.mark.parametrize(
    "accept", ["application/dicom", "image/gif", "image/jpeg;q=0, image/png;q=0"]
)
def test_a_rendered_type_we_cannot_make_is_406_with_a_problem(api: Api, accept: str) -> None:
    stow(api, [CT])
    response = rendered(api, CT, accept)
    assert response.status_code == 406
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "image/jpeg or image/png" in response.json()["detail"]


def test_jpeg_quality_trades_size_for_fidelity(api: Api) -> None:
    stow(api, [MR])
    reference = picture(rendered(api, MR, "image/png")).astype(int)
    low = rendered(api, MR, quality=10)
    high = rendered(api, MR, quality=95)
    assert len(low.content) < len(high.content)
    error_low = np.abs(picture(low, "image/jpeg").astype(int) - reference).mean()
    error_high = np.abs(picture(high, "image/jpeg").astype(int) - reference).mean()
    assert error_high < error_low


@pytest.mark.parametrize(("name", "value"), [("quality", "0"), ("quality", "high"), ("window", "40"), ("window", "40,0,linear"), ("window", "40,400,gamma"), ("viewport", "64"), ("viewport", "0,64")])  # fmt: skip
def test_bad_rendering_parameters_are_400_naming_the_parameter(api: Api, name: str, value: str) -> None:  # fmt: skip
    stow(api, [CT])
    response = rendered(api, CT, "image/png", **{name: value})
    assert response.status_code == 400
    assert response.json()["errors"][0]["pointer"] == name


def test_the_window_parameter_sets_the_grey_levels(api: Api) -> None:
    stow(api, [CT])
    ds = pydicom.dcmread(io.BytesIO(CT))
    hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    low, high = float(hu.min()), float(hu.max())
    below = picture(rendered(api, CT, "image/png", window=f"{high + 1000},10"))
    above = picture(rendered(api, CT, "image/png", window=f"{low - 1000},10"))
    assert below.max() == 0 and above.min() == 255  # everything under / over the window
    centre = (low + high) / 2
    linear = picture(rendered(api, CT, "image/png", window=f"{centre},{high - low}"))
    # Grey levels rise with the pixel values (Hounsfield units here).
    order = np.argsort(hu, axis=None, kind="stable")
    assert np.all(np.diff(linear.reshape(-1)[order].astype(int)) >= 0)
    assert linear.max() > 200 and linear.min() < 55
    sigmoid = picture(rendered(api, CT, "image/png", window=f"{centre},{high - low},sigmoid"))
    assert sigmoid.shape == linear.shape and not np.array_equal(sigmoid, linear)
    exact = picture(rendered(api, CT, "image/png", window=f"{centre},{high - low},linear-exact"))
    assert np.abs(exact.astype(int) - linear).max() <= 1  # the two linear functions differ by ½


def test_the_viewport_scales_and_crops(api: Api) -> None:
    stow(api, [CT])
    assert picture(rendered(api, CT, "image/png", viewport="64,64")).shape == (64, 64, 1)
    assert picture(rendered(api, CT, "image/png", viewport="200,50")).shape == (50, 50, 1)
    whole = picture(rendered(api, CT, "image/png"))
    corner = picture(rendered(api, CT, "image/png", viewport="32,32,0,0,32,32"))
    assert np.array_equal(corner, whole[:32, :32])
    flipped = picture(rendered(api, CT, "image/png", viewport="32,32,0,0,-32,32"))
    assert np.array_equal(flipped, whole[:32, :32][:, ::-1])


# The compressed files pydicom ships, each rendered as its uncompressed twin is.
MR_TWINS = ["MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm", "MR_small_RLE.dcm"]
SC_TWINS = {
    "SC_rgb_jpeg_gdcm.dcm": 0,  # JPEG Lossless (process 14): GDCM
    "SC_rgb_jpeg_dcmtk.dcm": 4,  # JPEG Baseline, lossy: Pillow
    "SC_rgb_gdcm_KY.dcm": 4,  # JPEG 2000: Pillow or GDCM
    "SC_rgb_jls_lossy_line.dcm": 4,  # JPEG-LS near-lossless: pyjpegls
}


@pytest.mark.parametrize("name", MR_TWINS)
def test_a_lossless_compressed_file_is_kept_as_sent_and_renders_as_the_original(api: Api, name: str) -> None:  # fmt: skip
    compressed = pydicom_file(name)
    original = rewritten(MR)  # the same pixels, uncompressed, under new UIDs
    assert stow(api, [compressed, original]).status_code == 200
    files = api.client.get(instance_url(compressed), headers=auth(api, READER))
    assert split_multipart(files) == [compressed]
    assert np.array_equal(picture(rendered(api, compressed, "image/png")), picture(rendered(api, original, "image/png")))  # fmt: skip
    assert rendered(api, compressed).headers["content-type"] == "image/jpeg"


@pytest.mark.parametrize(("name", "tolerance"), SC_TWINS.items())
def test_a_compressed_colour_file_renders_close_to_its_lossless_twin(api: Api, name: str, tolerance: int) -> None:  # fmt: skip
    # Under new UIDs (some of these files have none): the encapsulated pixel data is kept.
    compressed = rewritten(pydicom_file(name), PatientID="ID1", SeriesInstanceUID=pydicom.uid.generate_uid())  # fmt: skip
    assert header(compressed).file_meta.TransferSyntaxUID == header(pydicom_file(name)).file_meta.TransferSyntaxUID  # fmt: skip
    reference = rewritten(pydicom_file("SC_rgb_rle.dcm"))  # RLE: pydicom decodes it itself
    assert stow(api, [compressed, reference]).status_code == 200
    ours = picture(rendered(api, compressed, "image/png")).astype(int)
    theirs = picture(rendered(api, reference, "image/png")).astype(int)
    assert ours.shape == theirs.shape == (100, 100, 3)
    assert np.abs(ours - theirs).mean() <= tolerance


def test_a_frame_no_installed_decoder_reads_is_406_naming_its_transfer_syntax(api: Api) -> None:
    twelve_bit = pydicom_file(
        "JPGExtended.dcm"
    )  # 12-bit JPEG Extended: only a GPL decoder reads it
    assert stow(api, [twelve_bit]).status_code == 200
    files = api.client.get(instance_url(twelve_bit), headers=auth(api, READER))
    assert split_multipart(files) == [twelve_bit]  # stored and served as sent
    response = rendered(api, twelve_bit)
    assert response.status_code == 406
    detail = response.json()["detail"]
    assert "JPEG Extended" in detail and "1.2.840.10008.1.2.4.51" in detail


def test_an_instance_without_pixels_cannot_be_rendered(api: Api) -> None:
    ds = pydicom.dcmread(io.BytesIO(rewritten(CT)))
    del ds.PixelData
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    assert stow(api, [out.getvalue()]).status_code == 200
    response = rendered(api, out.getvalue())
    assert response.status_code == 406
    assert "no pixel data" in response.json()["detail"]


# -- access -------------------------------------------------------------------------------------
def test_dicomweb_needs_a_valid_bearer_token(api: Api) -> None:
    assert api.client.get("/dicomweb/studies").status_code == 401
    bad = {"Authorization": "Bearer not-a-token"}
    assert api.client.get("/dicomweb/studies", headers=bad).status_code == 401
    body, content_type = multipart([CT])
    response = api.client.post("/dicomweb/studies", content=body, headers={"Content-Type": content_type})  # fmt: skip
    assert response.status_code == 401


def test_dicomweb_needs_imaging_study_scopes(api: Api) -> None:
    observations = {"scope": "user/Observation.rs", "subject": "x", "role": "clinician"}
    assert api.client.get("/dicomweb/studies", headers=auth(api, observations)).status_code == 403
    assert stow(api, [CT], claims=READER).status_code == 403  # read is not create
    stow(api, [CT])
    assert api.client.get(instance_url(CT), headers=auth(api, observations)).status_code == 403


def test_a_patient_token_sees_only_its_own_studies(api: Api) -> None:
    stow(api, [CT, MR])
    own = {"scope": "patient/ImagingStudy.rs", "subject": "citizen-ct", "role": "citizen", "patient": "p-ct"}  # fmt: skip
    found = qido(api, claims=own)
    assert [values(s, "0020000D")[0] for s in found] == [header(CT).StudyInstanceUID]
    assert qido(api, claims=own, PatientID="4MR1") == []
    assert api.client.get(instance_url(CT), headers=auth(api, own)).status_code == 200
    other = api.client.get(instance_url(MR), headers=auth(api, own))
    assert other.status_code == 403
    series = api.client.get(f"/dicomweb/studies/{header(MR).StudyInstanceUID}/series", headers=auth(api, own))  # fmt: skip
    assert series.status_code == 403


def test_a_clinician_of_another_facility_without_consent_sees_nothing(api: Api) -> None:
    stow(api, [CT])
    elsewhere = {**READER, "subject": "dave", "facility": "org-b"}
    assert qido(api, claims=elsewhere) == []
    assert api.client.get(instance_url(CT), headers=auth(api, elsewhere)).status_code == 403


def test_a_patient_token_cannot_file_a_study_on_another_patient(api: Api) -> None:
    own = {"scope": "patient/ImagingStudy.crs", "subject": "citizen-ct", "role": "citizen", "patient": "p-ct", "facility": FACILITY}  # fmt: skip
    response = stow(api, [MR], claims=own)
    assert response.status_code == 409
    assert values(values(response.json(), "00081198")[0], "00081197") == [0x0124]


def test_every_dicomweb_access_is_audited(api: Api, store: Any) -> None:
    stow(api, [CT])
    qido(api)
    api.client.get(instance_url(CT), headers=auth(api, READER))
    api.client.get("/dicomweb/studies", headers=auth(api, {"scope": "user/Observation.rs", "subject": "eve", "role": "clinician"}))  # fmt: skip
    events = audits(store)
    by_subject = [(e["agent"][0]["who"]["identifier"]["value"], e["subtype"][0]["code"], e["outcome"]) for e in events]  # fmt: skip
    assert ("pacs-a", "create", "0") in by_subject
    assert ("carol", "search-type", "0") in by_subject
    assert ("carol", "read", "0") in by_subject
    assert ("eve", "search-type", "8") in by_subject  # the denial too
    read = next(e for e in events if e["agent"][0]["who"]["identifier"]["value"] == "carol" and e["subtype"][0]["code"] == "read")  # fmt: skip
    assert read["entity"][0]["what"]["reference"].startswith("ImagingStudy/")
    assert b"1CT1" not in orjson.dumps(events)  # no DICOM values in the audit


def audits(store: Any) -> list[dict[str, Any]]:
    if hasattr(store, "_audit"):
        raw = [event for _, event in store._audit]
    else:
        from sqlalchemy import select

        from khealth.store.schema import audit_log

        with store.engine.connect() as conn:
            raw = [bytes(c) for c in conn.execute(select(audit_log.c.content)).scalars()]
    return [orjson.loads(e) for e in raw]


# -- the synthetic city -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from khealth.synth import SynthConfig, write_city

    out = tmp_path_factory.mktemp("city")
    write_city(SynthConfig(citizens=30, seed=3, dicom_max_studies=4, emergency_days=1), out, progress=False)  # fmt: skip
    return out


def test_the_synthetic_citys_files_join_their_imaging_studies(api: Api, store: Any, small_city: Path) -> None:  # fmt: skip
    files = sorted((small_city / "dicom").rglob("*.dcm"))
    study_uids = {header(f.read_bytes()).StudyInstanceUID for f in files}
    wanted = {"Patient": [], "ImagingStudy": []}  # type: dict[str, list[dict[str, Any]]]
    for kind in wanted:
        for line in (small_city / "ndjson" / f"{kind}.ndjson").read_text().splitlines():
            resource = orjson.loads(line)
            wanted[kind].append(resource)
    mine = [s for s in wanted["ImagingStudy"] if s["identifier"][0]["value"].removeprefix("urn:oid:") in study_uids]  # fmt: skip
    patients = {s["subject"]["reference"].split("/")[1] for s in mine}
    records = Records(store, FrozenClock())
    held = {"source": "urn:khealth:facility:city-hospital"}  # the facility that holds them
    with records.begin(system_context(), "update") as rs:
        for p in wanted["Patient"]:
            if p["id"] in patients:
                rs.update("Patient", p["id"], {**p, "meta": held})
        for s in mine:
            s = {k: v for k, v in s.items() if k not in ("endpoint", "encounter")}
            rs.update("ImagingStudy", s["id"], {**s, "meta": held})
    # The facility is not on record as an Organization, and the files carry no issuer: the
    # PatientID (the MRN) is matched on its value with birth date and sex.
    modality = {"scope": "system/ImagingStudy.crus", "subject": "modality", "role": "hospital-system", "facility": "city-hospital"}  # fmt: skip
    response = stow(api, [f.read_bytes() for f in files], claims=modality)
    assert response.status_code == 200, response.text
    after = {s["id"]: s for s in imaging_studies(store)}
    assert set(after) == {s["id"] for s in mine}  # merged into the city's, none added
    for s in mine:
        now = after[s["id"]]
        assert now["subject"] == s["subject"]
        assert now["endpoint"][0]["reference"].startswith("Endpoint/")
        assert now["series"][0]["uid"] == s["series"][0]["uid"]
    some = files[0].read_bytes()
    reader = {**READER, "facility": "city-hospital"}
    png = api.client.get(instance_url(some) + "/rendered", headers={**auth(api, reader), "Accept": "image/png"})  # fmt: skip
    assert picture(png).shape[:2] == (64, 64)
