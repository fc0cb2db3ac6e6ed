"""DICOMweb at ``/dicomweb`` (DICOM PS3.18): STOW-RS, QIDO-RS and WADO-RS.

Handlers only adapt HTTP — multipart bodies, query parameters, media types — to
:class:`khealth.imaging.service.Imaging`, which decides and audits every access through the
record service with the caller's AccessContext (a bearer token is required, as on /fhir).

* ``POST /studies``, ``POST /studies/{study}``: store; the answer is a DICOM JSON dataset
  with ReferencedSOPSequence / FailedSOPSequence (200 all stored, 202 some, 409 none).
* ``GET /studies``, ``/studies/{study}/series``, ``/studies/{study}/series/{series}/instances``
  (and ``/studies/{study}/instances``): search, ``application/dicom+json``.
* ``GET /studies/{study}[/series/{series}[/instances/{instance}]]``: the files, as stored,
  ``multipart/related; type="application/dicom"``; ``.../metadata``: DICOM JSON;
  ``.../instances/{instance}/bulkdata/{tag}``: a BulkDataURI of the metadata.
* ``.../instances/{instance}/rendered`` (its first frame) and ``.../frames/{n}/rendered``:
  image/jpeg (the default, also for ``*/*`` and ``image/*``) or image/png by the Accept
  header, 406 for anything else; ``quality`` (JPEG, 1–100), ``window=center,width[,linear|
  linear-exact|sigmoid]``, ``viewport=vw,vh[,sx,sy,sw,sh]``.  Compressed files (JPEG
  baseline, JPEG lossless, JPEG-LS, JPEG 2000, RLE) are decoded for rendering only; a frame
  no installed decoder can read is 406 naming its transfer syntax.

The same studies arrive over DIMSE too: ``khealth serve --dicom-port`` runs a C-STORE SCP
(:mod:`khealth.imaging.dimse`) over the same service.

Not done: transcoding (files are served in their stored transfer syntax; a request for
another one gets 406), rendered GIF/JPEG 2000/video and annotations, frame retrieval as
bulk data, XML, thumbnails, UPS-RS.
"""

from __future__ import annotations

import re
import threading
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from khealth.access.context import AccessContext
from khealth.core.errors import (
    InvalidRequest,
    Issue,
    KhealthError,
    PayloadTooLarge,
)
from khealth.imaging import qido, render
from khealth.imaging.model import StoreOutcome
from khealth.imaging.objectstore import FileObjectStore
from khealth.imaging.ports import DicomIndex, StudyQuery
from khealth.imaging.service import Imaging
from khealth.web.deps import access_context, services
from khealth.web.dicomweb_multipart import Part, media_params, read_parts, write_parts

router = APIRouter(prefix="/dicomweb", tags=["DICOMweb"])
Caller = Annotated[AccessContext, Depends(access_context)]
DICOM_JSON = "application/dicom+json"
MAX_LIMIT = 1000
_DATE = re.compile(r"^\d{8}$")
_BUILD_LOCK = threading.Lock()
_STUDY_PARAMS = {
    "PatientID": "00100020", "StudyDate": "00080020", "ModalitiesInStudy": "00080061",
    "StudyInstanceUID": "0020000D", "AccessionNumber": "00080050",
}  # fmt: skip
_CONTROL = {"limit", "offset", "includefield", "fuzzymatching"}


def dicom_index(store: object) -> DicomIndex:
    from khealth.store.sql import SqlStore

    if isinstance(store, SqlStore):
        from khealth.store.imaging_sql import SqlDicomIndex

        return SqlDicomIndex(store.engine)
    from khealth.store.imaging_memory import MemoryDicomIndex

    return MemoryDicomIndex()


def imaging(request: Request) -> Imaging:
    """The app's imaging service, built on first use over the app's store; files live under
    ``KHEALTH_DATA_DIR/objects``."""
    found: Imaging | None = getattr(request.app.state, "imaging", None)
    if found is not None:
        return found
    with _BUILD_LOCK:
        found = getattr(request.app.state, "imaging", None)
        if found is None:
            svc = services(request)
            objects = FileObjectStore(svc.settings.data_dir / "objects")
            found = Imaging(svc.records, dicom_index(svc.store), objects)
            request.app.state.imaging = found
    return found


Service = Annotated[Imaging, Depends(imaging)]


def dicomweb_base(request: Request) -> str:
    """The public ``/dicomweb`` base: beside the configured FHIR base, else the request's."""
    configured = str(services(request).settings.base_url or "").rstrip("/")
    if configured:
        return configured.removesuffix("/fhir") + "/dicomweb"
    return str(request.base_url).rstrip("/") + "/dicomweb"


def _dicom_json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type=DICOM_JSON)


# -- STOW-RS ------------------------------------------------------------------------------
async def _read_body(request: Request) -> bytes:
    limit = services(request).settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge([Issue("too-costly", f"the body is larger than {limit} bytes")])
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise PayloadTooLarge([Issue("too-costly", f"the body is larger than {limit} bytes")])
    return bytes(body)


async def _store(request: Request, ctx: AccessContext, imaging: Imaging, study: str | None) -> Response:  # fmt: skip
    accept = request.headers.get("accept", "")
    if accept and "xml" in accept and "json" not in accept and "*/*" not in accept:
        raise KhealthError([Issue("not-supported", "the response is application/dicom+json")], 406)  # fmt: skip
    content_type = request.headers.get("content-type", "")
    body = await _read_body(request)
    parts = read_parts(content_type, body)
    if not parts:
        raise InvalidRequest([Issue("invalid", "the multipart body has no parts")])
    base = dicomweb_base(request)
    outcome = await run_in_threadpool(imaging.store, ctx, [p.data for p in parts], study, base)
    return _dicom_json(_store_response(outcome, base, study), outcome.status)


def _item(**elements: tuple[str, Any]) -> dict[str, Any]:
    return {tag: {"vr": vr, "Value": [value]} for tag, (vr, value) in elements.items() if value is not None}  # fmt: skip


def _store_response(outcome: StoreOutcome, base: str, study: str | None) -> dict[str, Any]:
    """PS3.18 §10.5.3 Store Instances Response Module (Table 10.5.3-3)."""
    answer: dict[str, Any] = {}
    studies = {s.study_uid for s in outcome.stored}
    if study is not None or len(studies) == 1:
        answer["00081190"] = {"vr": "UR", "Value": [f"{base}/studies/{study or studies.pop()}"]}
    if outcome.stored:
        answer["00081199"] = {"vr": "SQ", "Value": [
            {**_item(**{"00081150": ("UI", s.sop_class_uid), "00081155": ("UI", s.sop_uid),
                       "00081190": ("UR", f"{base}/studies/{s.study_uid}/series/{s.series_uid}/instances/{s.sop_uid}")})}
            for s in outcome.stored
        ]}  # fmt: skip
    if outcome.failed:
        answer["00081198"] = {"vr": "SQ", "Value": [
            _item(**{"00081150": ("UI", f.sop_class_uid), "00081155": ("UI", f.sop_uid),
                     "00081197": ("US", f.code),
                     # ErrorComment: why, in words; never a value from the file.
                     "00000902": ("LO", f"part {f.part}: {f.reason}"[:64])})
            for f in outcome.failed
        ]}  # fmt: skip
    return answer


@router.post("/studies")
async def store_instances(request: Request, ctx: Caller, imaging: Service) -> Response:
    return await _store(request, ctx, imaging, None)


@router.post("/studies/{study}")
async def store_study_instances(study: str, request: Request, ctx: Caller, imaging: Service) -> Response:  # fmt: skip
    return await _store(request, ctx, imaging, study)


# -- QIDO-RS ------------------------------------------------------------------------------
def _values(request: Request, name: str) -> tuple[str, ...]:
    tag = _STUDY_PARAMS.get(name)
    raw = request.query_params.getlist(name) + (request.query_params.getlist(tag) if tag else [])
    return tuple(v.strip() for value in raw for v in re.split(r"[,\\]", value) if v.strip())


def _number(request: Request, name: str, default: int, maximum: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit():
        raise InvalidRequest([Issue("invalid", f"{name} must be a non-negative integer", (name,))])
    return min(int(raw), maximum)


def _date_range(values: tuple[str, ...]) -> tuple[str | None, str | None]:
    """StudyDate matching (PS3.4 C.2.2.2.5): a date, ``from-to``, ``-to`` or ``from-``."""
    if not values:
        return None, None
    if len(values) > 1:
        raise InvalidRequest([Issue("invalid", "StudyDate takes one value or one range", ("StudyDate",))])  # fmt: skip
    low, dash, high = values[0].partition("-")
    low, high = low.strip(), (high.strip() if dash else low.strip())
    for value in (low, high):
        if value and not _DATE.match(value):
            raise InvalidRequest([Issue("invalid", "StudyDate must be YYYYMMDD or a range of them", ("StudyDate",))])  # fmt: skip
    return low or None, high or None


def _study_query(request: Request) -> StudyQuery:
    date_from, date_to = _date_range(_values(request, "StudyDate"))
    return StudyQuery(
        patient_ids=_values(request, "PatientID"), date_from=date_from, date_to=date_to,
        modalities=_values(request, "ModalitiesInStudy") + _values(request, "Modality"),
        study_uids=_values(request, "StudyInstanceUID"),
        accession_numbers=_values(request, "AccessionNumber"),
        limit=_number(request, "limit", 100, MAX_LIMIT), offset=_number(request, "offset", 0, 10**9),
    )  # fmt: skip


def _ignored_warning(request: Request, known: set[str]) -> dict[str, str]:
    """Unsupported matching attributes are ignored with a Warning (PS3.18 §8.3.4.1)."""
    ignored = sorted({k for k in request.query_params if k not in known and k not in _CONTROL})
    if not ignored:
        return {}
    return {"Warning": '299 khealth "matching on these attributes is not supported and was ignored"'}  # fmt: skip


def _fields(request: Request) -> qido.Fields:
    return qido.parse_includefield(request.query_params.getlist("includefield"))


@router.get("/studies")
async def search_studies(request: Request, ctx: Caller, imaging: Service) -> Response:
    query, fields = _study_query(request), _fields(request)
    known = set(_STUDY_PARAMS) | set(_STUDY_PARAMS.values()) | {"Modality"}
    found = await run_in_threadpool(imaging.search_studies, ctx, query, dicomweb_base(request), fields)  # fmt: skip
    return _dicom_json(found, headers=_ignored_warning(request, known))


@router.get("/studies/{study}/series")
async def search_series(study: str, request: Request, ctx: Caller, imaging: Service) -> Response:
    modality = request.query_params.get("Modality") or request.query_params.get("00080060")
    found = await run_in_threadpool(imaging.search_series, ctx, study, modality, dicomweb_base(request), _fields(request))  # fmt: skip
    return _dicom_json(found, headers=_ignored_warning(request, {"Modality", "00080060"}))


@router.get("/studies/{study}/instances")
async def search_study_instances(study: str, request: Request, ctx: Caller, imaging: Service) -> Response:  # fmt: skip
    found = await run_in_threadpool(imaging.search_instances, ctx, study, None, dicomweb_base(request), _fields(request))  # fmt: skip
    return _dicom_json(found)


@router.get("/studies/{study}/series/{series}/instances")
async def search_instances(study: str, series: str, request: Request, ctx: Caller, imaging: Service) -> Response:  # fmt: skip
    found = await run_in_threadpool(imaging.search_instances, ctx, study, series, dicomweb_base(request), _fields(request))  # fmt: skip
    return _dicom_json(found)


# -- WADO-RS ------------------------------------------------------------------------------
def _wanted_syntax(request: Request) -> str | None:
    """A transfer syntax the Accept header insists on, or None for "as stored"."""
    for item in request.headers.get("accept", "").split(","):
        media, params = media_params(item)
        if media in ("multipart/related", "application/dicom"):
            syntax = params.get("transfer-syntax")
            if syntax and syntax != "*":
                return syntax
    return None


async def _files(
    request: Request, ctx: AccessContext, imaging: Imaging, study: str,
    series: str | None = None, instance: str | None = None,
) -> Response:  # fmt: skip
    found = await run_in_threadpool(imaging.instances, ctx, study, series, instance)
    wanted = _wanted_syntax(request)
    if wanted is not None and any(entry.transfer_syntax != wanted for entry, _ in found):
        raise KhealthError([Issue("not-supported", "instances are served in their stored transfer syntax only")], 406)  # fmt: skip
    parts = [Part(f"application/dicom; transfer-syntax={e.transfer_syntax}", data) for e, data in found]  # fmt: skip
    body, content_type = write_parts(parts, "application/dicom")
    return Response(body, 200, media_type=content_type)


@router.get("/studies/{study}")
async def retrieve_study(study: str, request: Request, ctx: Caller, imaging: Service) -> Response:
    return await _files(request, ctx, imaging, study)


@router.get("/studies/{study}/series/{series}")
async def retrieve_series(study: str, series: str, request: Request, ctx: Caller, imaging: Service) -> Response:  # fmt: skip
    return await _files(request, ctx, imaging, study, series)


@router.get("/studies/{study}/series/{series}/instances/{instance}")
async def retrieve_instance(study: str, series: str, instance: str, request: Request, ctx: Caller, imaging: Service) -> Response:  # fmt: skip
    return await _files(request, ctx, imaging, study, series, instance)


async def _metadata(request: Request, ctx: AccessContext, imaging: Imaging, study: str, series: str | None = None, instance: str | None = None) -> Response:  # fmt: skip
    found = await run_in_threadpool(imaging.metadata, ctx, study, series, instance, dicomweb_base(request))  # fmt: skip
    return _dicom_json(found)


@router.get("/studies/{study}/metadata")
async def study_metadata(study: str, request: Request, ctx: Caller, imaging: Service) -> Response:
    return await _metadata(request, ctx, imaging, study)


@router.get("/studies/{study}/series/{series}/metadata")
async def series_metadata(study: str, series: str, request: Request, ctx: Caller, imaging: Service) -> Response:  # fmt: skip
    return await _metadata(request, ctx, imaging, study, series)


@router.get("/studies/{study}/series/{series}/instances/{instance}/metadata")
async def instance_metadata(study: str, series: str, instance: str, request: Request, ctx: Caller, imaging: Service) -> Response:  # fmt: skip
    return await _metadata(request, ctx, imaging, study, series, instance)


@router.get("/studies/{study}/series/{series}/instances/{instance}/bulkdata/{tag}")
async def bulkdata(study: str, series: str, instance: str, tag: str, ctx: Caller, imaging: Service) -> Response:  # fmt: skip
    if not re.fullmatch(r"[0-9A-Fa-f]{8}", tag):
        raise InvalidRequest([Issue("invalid", "the bulk data tag must be 8 hex digits")])
    data = await run_in_threadpool(imaging.bulkdata, ctx, study, series, instance, tag)
    body, content_type = write_parts(
        [Part("application/octet-stream", data)], "application/octet-stream"
    )
    return Response(body, 200, media_type=content_type)


def rendered_media_type(accept: str) -> str:
    """The rendered media type an Accept header asks for (PS3.18 §8.7.4): image/jpeg, the
    standard's default, for no Accept, ``*/*`` or ``image/*``; image/png when it ranks
    higher.  Each type takes the q of the most specific range that matches it (RFC 9110
    §12.5.1); q=0 refuses it.  Neither acceptable: 406."""
    if not accept.strip():
        return render.JPEG
    ranks: dict[str, tuple[int, float]] = {}
    for item in accept.split(","):
        media, params = media_params(item)
        try:
            q = float(params.get("q", "1"))
        except ValueError:
            q = 0.0
        for wanted in render.MEDIA_TYPES:
            specificity = 2 if media == wanted else 1 if media == "image/*" else 0 if media == "*/*" else -1  # fmt: skip
            if specificity >= 0 and specificity > ranks.get(wanted, (-1, 0.0))[0]:
                ranks[wanted] = (specificity, q)
    acceptable = [(q, -order, m) for order, m in enumerate(render.MEDIA_TYPES) if (q := ranks.get(m, (0, 0.0))[1]) > 0]  # fmt: skip
    if not acceptable:
        raise KhealthError([Issue("not-supported", "rendered frames are served as image/jpeg or image/png")], 406)  # fmt: skip
    return max(acceptable)[2]


def _render_options(request: Request) -> render.RenderOptions:
    """The rendered-resource query parameters (PS3.18 §8.3.5.1): quality, window, viewport.
    Others (annotation, charset, iccprofile) are not supported and ignored."""
    media_type = rendered_media_type(request.headers.get("accept", ""))
    found: dict[str, Any] = {}
    parsers = {"quality": render.parse_quality, "window": render.parse_window, "viewport": render.parse_viewport}  # fmt: skip
    for name, parse in parsers.items():
        raw = request.query_params.get(name)
        if raw is None:
            continue
        try:
            found[name] = parse(raw)
        except ValueError as error:
            raise InvalidRequest([Issue("invalid", str(error), (name,))]) from None
    return render.RenderOptions(media_type=media_type, **found)


async def _rendered(request: Request, ctx: AccessContext, imaging: Imaging, study: str, series: str, instance: str, frame: int) -> Response:  # fmt: skip
    options = _render_options(request)
    try:
        image = await run_in_threadpool(imaging.rendered, ctx, study, series, instance, frame, options)  # fmt: skip
    except render.CannotRender as error:
        # No acceptable representation can be made of this frame; the file is still
        # retrievable as stored.
        raise KhealthError([Issue("not-supported", str(error))], 406) from None
    return Response(image.content, 200, media_type=image.media_type, headers={"Vary": "Accept"})


@router.get("/studies/{study}/series/{series}/instances/{instance}/rendered")
async def rendered_instance(study: str, series: str, instance: str, request: Request, ctx: Caller, imaging: Service) -> Response:  # fmt: skip
    return await _rendered(request, ctx, imaging, study, series, instance, 1)


@router.get("/studies/{study}/series/{series}/instances/{instance}/frames/{frames}/rendered")
async def rendered_frame(study: str, series: str, instance: str, frames: str, request: Request, ctx: Caller, imaging: Service) -> Response:  # fmt: skip
    if not frames.isdigit() or int(frames) < 1:
        raise InvalidRequest([Issue("invalid", "a rendered frame is one frame number from 1")])
    return await _rendered(request, ctx, imaging, study, series, instance, int(frames))
