"""QIDO-RS answers (PS3.18 §8.3.4, §10.6): the DICOM JSON object of each matching study,
series or instance, with the default attributes of its level plus ``includefield``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from pydicom.datadict import keyword_for_tag, tag_for_keyword

from khealth.core.errors import InvalidRequest, Issue
from khealth.imaging.dicom_files import INSTANCE_KEYWORDS, SERIES_KEYWORDS, STUDY_KEYWORDS
from khealth.imaging.ports import InstanceEntry, SeriesEntry, StudyEntry, StudySummary


@dataclass(frozen=True, slots=True)
class Fields:
    """``includefield``: all attributes, or these tags (8 hex digits) besides the defaults."""

    everything: bool = False
    tags: frozenset[str] = frozenset()


def parse_includefield(values: Sequence[str]) -> Fields:
    tags: set[str] = set()
    for value in values:
        for item in value.split(","):
            item = item.strip()
            if item == "all":
                return Fields(everything=True)
            if item:
                tags.add(tag_of(item, "includefield"))
    return Fields(tags=frozenset(tags))


def tag_of(name: str, parameter: str) -> str:
    """A keyword (``PatientID``) or tag (``00100020``) as 8 upper-case hex digits."""
    if len(name) == 8 and all(c in "0123456789abcdefABCDEF" for c in name):
        return name.upper()
    tag = tag_for_keyword(name)
    if tag is None:
        raise InvalidRequest([Issue("invalid", f"{parameter}: unknown attribute", (parameter,))])
    return f"{tag:08X}"


def _default_tags(keywords: Sequence[str]) -> frozenset[str]:
    return frozenset(f"{tag_for_keyword(k):08X}" for k in keywords)


_STUDY = _default_tags(STUDY_KEYWORDS)
_SERIES = _default_tags(SERIES_KEYWORDS)
_INSTANCE = _default_tags(INSTANCE_KEYWORDS)


def _pick(attrs: bytes, defaults: frozenset[str], fields: Fields) -> dict[str, Any]:
    values: dict[str, Any] = orjson.loads(attrs)
    if fields.everything:
        return values
    wanted = defaults | fields.tags
    return {tag: value for tag, value in values.items() if tag in wanted}


def _element(vr: str, *values: Any) -> dict[str, Any]:
    return {"vr": vr, "Value": list(values)} if values else {"vr": vr}


def study_json(
    entry: StudyEntry, summary: StudySummary, base: str, fields: Fields
) -> dict[str, Any]:
    found = _pick(entry.attrs, _STUDY, fields)
    found["00080061"] = _element("CS", *summary.modalities)  # ModalitiesInStudy
    found["00201206"] = _element("IS", summary.series)  # NumberOfStudyRelatedSeries
    found["00201208"] = _element("IS", summary.instances)  # NumberOfStudyRelatedInstances
    found["00081190"] = _element("UR", f"{base}/studies/{entry.study_uid}")
    return dict(sorted(found.items()))


def series_json(entry: SeriesEntry, instances: int, base: str, fields: Fields) -> dict[str, Any]:
    found = _pick(entry.attrs, _SERIES, fields)
    found["0020000D"] = _element("UI", entry.study_uid)
    found["00201209"] = _element("IS", instances)  # NumberOfSeriesRelatedInstances
    found["00081190"] = _element("UR", f"{base}/studies/{entry.study_uid}/series/{entry.series_uid}")  # fmt: skip
    return dict(sorted(found.items()))


def instance_json(entry: InstanceEntry, base: str, fields: Fields) -> dict[str, Any]:
    found = _pick(entry.attrs, _INSTANCE, fields)
    found["0020000D"] = _element("UI", entry.study_uid)
    found["0020000E"] = _element("UI", entry.series_uid)
    found["00080016"] = _element("UI", entry.sop_class_uid)
    found["00080018"] = _element("UI", entry.sop_uid)
    found["00083002"] = _element("UI", entry.transfer_syntax)  # AvailableTransferSyntaxUID
    url = f"{base}/studies/{entry.study_uid}/series/{entry.series_uid}/instances/{entry.sop_uid}"
    found["00081190"] = _element("UR", url)
    return dict(sorted(found.items()))


def keyword(tag: str) -> str:
    return str(keyword_for_tag(int(tag, 16)) or tag)
