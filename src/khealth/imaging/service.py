"""DICOMweb use cases over the record service, the DICOM index and the object store.

Every call opens a record session under the caller's AccessContext, so that each DICOMweb
access is decided by the access policy and written as one audit event:

* QIDO-RS needs ImagingStudy search (``s``); a patient-bound token matches only studies
  filed on its own Patient, and the audit lists the ImagingStudy resources returned;
* WADO-RS and the series/instance levels of QIDO-RS read the study's ImagingStudy through
  the record service (``r``, compartment checked, audited) before touching any file;
* STOW-RS is :class:`khealth.imaging.stow.StudyStore`.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from pydicom import dcmread
from pydicom.dataelem import DataElement

from khealth.access import policy
from khealth.access.context import AccessContext
from khealth.core.errors import Forbidden, Issue, NotFound
from khealth.fhir.search_parse import parse_search
from khealth.imaging import qido
from khealth.imaging.model import StoreOutcome
from khealth.imaging.objectstore import ObjectStore
from khealth.imaging.ports import DicomIndex, InstanceEntry, StudyEntry, StudyQuery
from khealth.imaging.render import RenderOptions, render
from khealth.imaging.stow import StudyStore
from khealth.records.service import Records, RecordSession

T = TypeVar("T")
BULK_THRESHOLD = 1024  # larger binary values are referenced by BulkDataURI in metadata


@dataclass(frozen=True, slots=True)
class Rendered:
    content: bytes
    media_type: str


def _not_found(what: str) -> NotFound:
    return NotFound([Issue("not-found", f"no such {what}")])


class Imaging:
    def __init__(
        self, records: Records, index: DicomIndex, objects: ObjectStore,
        now: Callable[[], int] | None = None,
    ) -> None:  # fmt: skip
        self.records = records
        self.index = index
        self.objects = objects
        self.stow = StudyStore(records, index, objects, now or records.clock.now_us)

    # -- STOW-RS --------------------------------------------------------------------------
    def store(
        self, ctx: AccessContext, parts: Sequence[bytes], study_uid: str | None, base: str
    ) -> StoreOutcome:
        return self.stow.store(ctx, parts, study_uid, base)

    # -- QIDO-RS --------------------------------------------------------------------------
    # The index is read outside record sessions: on SQLite a second connection cannot
    # begin while a session holds the write lock.
    def search_studies(
        self, ctx: AccessContext, query: StudyQuery, base: str, fields: qido.Fields
    ) -> list[dict[str, Any]]:
        bound = self._checked(ctx, "search-type", lambda: _search_bound(ctx))
        candidates = self.index.find_studies(replace(query, fhir_patient=bound))
        with self.records.begin(ctx, "search-type") as rs:
            found = _visible(rs, candidates)
        summaries = self.index.summaries([s.study_uid for s in found])
        return [qido.study_json(s, summaries[s.study_uid], base, fields) for s in found]

    def _checked(self, ctx: AccessContext, action: str, check: Callable[[], T]) -> T:
        """``check()``; a denial is audited (in its own record session) and raised."""
        try:
            return check()
        except Forbidden:
            with self.records.begin(ctx, action):
                check()
            raise

    def search_series(
        self, ctx: AccessContext, study_uid: str, modality: str | None, base: str,
        fields: qido.Fields,
    ) -> list[dict[str, Any]]:  # fmt: skip
        self._open_study(ctx, "search-type", study_uid)
        series = self.index.series_of(study_uid)
        counts: dict[str, int] = {}
        for instance in self.index.instances_of(study_uid):
            counts[instance.series_uid] = counts.get(instance.series_uid, 0) + 1
        return [
            qido.series_json(s, counts.get(s.series_uid, 0), base, fields)
            for s in series if modality is None or s.modality == modality
        ]  # fmt: skip

    def search_instances(
        self, ctx: AccessContext, study_uid: str, series_uid: str | None, base: str,
        fields: qido.Fields,
    ) -> list[dict[str, Any]]:  # fmt: skip
        self._open_study(ctx, "search-type", study_uid)
        found = self.index.instances_of(study_uid, series_uid)
        return [qido.instance_json(i, base, fields) for i in found]

    # -- WADO-RS --------------------------------------------------------------------------
    def instances(
        self, ctx: AccessContext, study_uid: str, series_uid: str | None = None,
        sop_uid: str | None = None,
    ) -> list[tuple[InstanceEntry, bytes]]:  # fmt: skip
        """The Part 10 files of a study, series or instance, byte for byte."""
        self._open_study(ctx, "read", study_uid)
        found = self._select(study_uid, series_uid, sop_uid)
        return [(entry, self.objects.get(entry.sha256)) for entry in found]

    def metadata(
        self, ctx: AccessContext, study_uid: str, series_uid: str | None, sop_uid: str | None,
        base: str,
    ) -> list[dict[str, Any]]:  # fmt: skip
        """DICOM JSON of every instance; values over 1 KiB as BulkDataURI (PS3.18 §8.7.3)."""
        return [
            _metadata_json(data, f"{base}/studies/{e.study_uid}/series/{e.series_uid}/instances/{e.sop_uid}")
            for e, data in self.instances(ctx, study_uid, series_uid, sop_uid)
        ]  # fmt: skip

    def bulkdata(
        self, ctx: AccessContext, study_uid: str, series_uid: str, sop_uid: str, tag: str
    ) -> bytes:
        ((_, data),) = self.instances(ctx, study_uid, series_uid, sop_uid)
        ds = dcmread(io.BytesIO(data))
        try:
            element = ds[int(tag, 16)]
        except (KeyError, ValueError):
            raise _not_found("bulk data") from None
        value = element.value
        return value if isinstance(value, bytes) else bytes(str(value), "utf-8")

    def rendered(
        self, ctx: AccessContext, study_uid: str, series_uid: str, sop_uid: str, frame: int,
        options: RenderOptions | None = None,
    ) -> Rendered:  # fmt: skip
        """A frame as JPEG or PNG (:mod:`khealth.imaging.render`); the stored file is
        decoded for this answer only.  CannotRender says why not."""
        options = options or RenderOptions()
        ((_, data),) = self.instances(ctx, study_uid, series_uid, sop_uid)
        try:
            return Rendered(render(data, frame, options), options.media_type)
        except IndexError:
            raise _not_found("frame") from None

    # -- access ---------------------------------------------------------------------------
    def _open_study(self, ctx: AccessContext, action: str, study_uid: str) -> StudyEntry:
        """The study's ImagingStudy is read through the record service: its scopes,
        compartment, consent and audit decide whether the DICOM behind it may be seen."""
        entry = self.index.study(study_uid)
        with self.records.begin(ctx, action) as rs:
            if entry is None:
                policy.require(ctx, "ImagingStudy", "read")  # no scope, no answer at all
                raise _not_found("study")
            rs.read("ImagingStudy", entry.imaging_study_id)
        return entry

    def _select(
        self, study_uid: str, series_uid: str | None, sop_uid: str | None
    ) -> list[InstanceEntry]:
        found = self.index.instances_of(study_uid, series_uid)
        if sop_uid is not None:
            found = [i for i in found if i.sop_uid == sop_uid]
        if not found:
            raise _not_found("instance" if sop_uid else "series" if series_uid else "study")
        return found


def _search_bound(ctx: AccessContext) -> str | None:
    policy.require(ctx, "ImagingStudy", "search")
    return policy.compartment_of(ctx, "ImagingStudy", "search")


def _visible(rs: RecordSession, found: list[StudyEntry]) -> list[StudyEntry]:
    """The matches whose ImagingStudy the record service shows this caller (scopes,
    compartment, consent), audited as its search.  A page can come back shorter than
    ``limit`` when some matches are hidden; ``offset`` still counts index matches."""
    if not found:
        rs.audit.searched("ImagingStudy")
        return []
    ids = ",".join(s.imaging_study_id for s in found)
    query = parse_search("ImagingStudy", [("_id", ids), ("_count", str(len(found)))])
    shown = {v.id for v in rs.search(query).page.matches}
    return [s for s in found if s.imaging_study_id in shown]


def _metadata_json(data: bytes, instance_url: str) -> dict[str, Any]:
    ds = dcmread(io.BytesIO(data))

    def bulk_uri(element: DataElement) -> str:
        return f"{instance_url}/bulkdata/{int(element.tag):08X}"

    found: dict[str, Any] = ds.to_json_dict(BULK_THRESHOLD, bulk_uri)
    found.pop("00080005", None)  # JSON is UTF-8 whatever the file's character set
    return found
