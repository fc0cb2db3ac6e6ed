"""The platform's consent vocabulary and what the decision point knows about a resource.

* **Categories** (code system ``urn:khealth:consent-category``): why a citizen shares.  Each
  category opens only the purposes of use it names; research in the Open Lab is a separate
  consent (PIPA art. 22 and 23: health data needs consent separate from other consents), so a
  consent that mixes research with another category is not honoured for research.
* **Sensitive categories**: mental health, sexually transmitted infections including HIV,
  genetics, reproductive health, and anything labelled restricted (``R``/``V``).  A resource
  is classified at read time from its codes and security labels (nothing is written into the
  record, so an import stays idempotent and a corrected code list applies to old data at once).
  The code lists are in docs/consent.md with their sources.
* **Holders**: the facilities (or, for writers without a facility such as an EMS crew, the
  writing agent) a resource belongs to: ``meta.source`` stamped on write
  (``urn:khealth:facility:<org-id>`` / ``urn:khealth:agent:<subject>``), plus the
  ``serviceProvider`` of an Encounter and the Organization ``performer`` of a ServiceRequest
  (a visit to, or a request addressed to, that facility).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from khealth.access.consent_model import CodeMatch
from khealth.fhir.fhirdates import date_range

CATEGORY_SYSTEM = "urn:khealth:consent-category"
TREATMENT_SHARING = "treatment-sharing"
EMERGENCY_ACCESS = "emergency-access"
OPEN_LAB_RESEARCH = "open-lab-research"
APP_ACCESS = "app-access"

#: purposes of use (v3 ActReason) each category can open
CATEGORY_PURPOSES: dict[str, frozenset[str]] = {
    TREATMENT_SHARING: frozenset({"TREAT", "ETREAT"}),
    EMERGENCY_ACCESS: frozenset({"ETREAT"}),
    OPEN_LAB_RESEARCH: frozenset({"HRESCH"}),
    APP_ACCESS: frozenset({"PATRQT"}),
}
ALL_PURPOSES = frozenset({"TREAT", "ETREAT", "PATRQT", "HOPERAT", "PUBHLTH"})  # not HRESCH

FACILITY_SOURCE = "urn:khealth:facility:"
AGENT_SOURCE = "urn:khealth:agent:"

ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
KCD8 = "http://www.hl7korea.or.kr/CodeSystem/kostat-kcd-8"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
LOINC = "http://loinc.org"
ATC = "http://www.whocc.no/atc"

MENTAL_HEALTH = "mental-health"
STI_HIV = "sti-hiv"
GENETICS = "genetics"
REPRODUCTIVE = "reproductive-health"
RESTRICTED = "restricted"


def _block(first: str, last: str) -> tuple[str, ...]:
    """Three-character KCD/ICD-10 categories from ``first`` to ``last`` (same letter)."""
    letter = first[0]
    return tuple(f"{letter}{n:02d}" for n in range(int(first[1:]), int(last[1:]) + 1))


@dataclass(frozen=True, slots=True)
class SensitiveCategory:
    name: str
    labels: frozenset[str]  # v3-ActCode / v3-Confidentiality security label codes
    diagnoses: tuple[str, ...]  # KCD-8 = ICD-10 code prefixes (Korean KCD-8 follows ICD-10)
    loinc: frozenset[str]  # tests and documents that reveal the category
    atc: tuple[str, ...]  # WHO ATC prefixes of medicines that reveal it

    def names(self, labels: frozenset[str], codes: tuple[CodeMatch, ...]) -> bool:
        """Does a provision with these labels and codes name this category explicitly?"""
        if labels & self.labels:
            return True
        return any(
            _prefix_overlaps(c.code, self.diagnoses) or c.code in self.loinc
            or _prefix_overlaps(c.code, self.atc)
            for c in codes
        )  # fmt: skip


def _prefix_overlaps(code: str, prefixes: tuple[str, ...]) -> bool:
    return any(code.startswith(p) or p.startswith(code) for p in prefixes) if code else False


SENSITIVE: tuple[SensitiveCategory, ...] = (
    SensitiveCategory(
        MENTAL_HEALTH, frozenset({"PSY", "PSYTHPN", "ETH", "BH", "SUD"}), _block("F00", "F99"),
        frozenset(), ("N05A", "N05B", "N06A", "N07B"),
    ),
    SensitiveCategory(
        STI_HIV, frozenset({"HIV", "STD"}),
        (*_block("A50", "A64"), *_block("B20", "B24"), "Z21"),
        frozenset({"7917-8", "56888-1", "75622-1", "5221-7", "20447-9"}),
        ("J05AE", "J05AF", "J05AG", "J05AR"),
    ),
    SensitiveCategory(
        GENETICS, frozenset({"GDIS"}), _block("Q90", "Q99"),
        frozenset({"51969-4", "81247-9"}), (),
    ),
    SensitiveCategory(
        REPRODUCTIVE, frozenset({"SEX"}),
        (*_block("O00", "O08"), *_block("Z30", "Z39"), "N46", "N97"), frozenset(), ("G03A",),
    ),
    SensitiveCategory(RESTRICTED, frozenset({"R", "V"}), (), frozenset(), ()),
)  # fmt: skip
BY_NAME = {c.name: c for c in SENSITIVE}
#: the label a category implies on a resource classified by its codes
IMPLIED_LABEL = {MENTAL_HEALTH: "PSY", STI_HIV: "HIV", GENETICS: "GDIS", REPRODUCTIVE: "SEX"}
_DIAGNOSIS_SYSTEMS = frozenset({KCD8, ICD10})

#: types whose reference displays can reveal a diagnosis (redacted for a caller who may not
#: read the target)
CLINICAL_TYPES = frozenset({
    "Condition", "Observation", "Procedure", "MedicationRequest", "MedicationStatement",
    "DiagnosticReport", "DocumentReference", "ServiceRequest", "CarePlan", "ClinicalImpression",
})  # fmt: skip
_CODE_FIELDS = (
    "code",
    "valueCodeableConcept",
    "medicationCodeableConcept",
    "reasonCode",
    "type",
    "category",
    "vaccineCode",
)
_DATE_FIELDS = (
    "recordedDate",
    "onsetDateTime",
    "effectiveDateTime",
    "issued",
    "authoredOn",
    "performedDateTime",
    "date",
    "occurrenceDateTime",
    "created",
)


def named_categories(labels: frozenset[str], codes: tuple[CodeMatch, ...]) -> frozenset[str]:
    """The sensitive categories a provision names explicitly (a ``Namer``)."""
    if not labels and not codes:
        return frozenset()
    return frozenset(c.name for c in SENSITIVE if c.names(labels, codes))


def consent_purposes(categories: frozenset[str]) -> frozenset[str]:
    """The purposes a consent with these categories can speak to.  No platform category:
    every purpose but research.  Research only from a research-only consent."""
    known = categories & CATEGORY_PURPOSES.keys()
    if not known:
        return ALL_PURPOSES
    if OPEN_LAB_RESEARCH in known and len(known) > 1:
        known = known - {OPEN_LAB_RESEARCH}
    return frozenset().union(*(CATEGORY_PURPOSES[c] for c in known))


@dataclass(frozen=True, slots=True)
class ResourceMeta:
    """What the decision point looks at: never the clinical values themselves."""

    resource_type: str
    id: str
    patients: frozenset[str]  # the Patient compartments it belongs to
    holders: frozenset[str]  # "facility:<id>" and "agent:<subject>"
    labels: frozenset[str]  # explicit security labels and those its codes imply
    codes: frozenset[tuple[str, str]]
    sensitive: frozenset[str]  # sensitive categories
    recorded: int | None
    displayed_refs: tuple[str, ...] = ()  # clinical references that carry a display

    sig: tuple[object, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        # Everything a decision depends on except the instance (id, recorded date): two
        # resources with one signature get one decision unless a consent names instances
        # or a data period.  Computed once: a search decides many resources by it.
        sig = (self.resource_type, self.patients, self.holders, self.labels, self.codes,
               self.sensitive, bool(self.displayed_refs))  # fmt: skip
        object.__setattr__(self, "sig", sig)

    @property
    def ref(self) -> str:
        return f"{self.resource_type}/{self.id}"


def classify(
    resource: Mapping[str, Any], patients: frozenset[str], raw: bytes | None = None
) -> ResourceMeta:
    """The ResourceMeta of a parsed resource whose compartments are ``patients``; ``raw``
    (its JSON) lets it skip looking for displayed references when there can be none."""
    resource_type = str(resource.get("resourceType", ""))
    found = resource.get("meta")
    meta: Mapping[str, Any] = found if isinstance(found, dict) else {}
    explicit = frozenset(
        c["code"] for c in meta.get("security") or [] if isinstance(c, dict) and "code" in c
    )
    codes = frozenset(_codes(resource))
    sensitive = _sensitive(explicit, codes)
    labels = explicit | frozenset(IMPLIED_LABEL[s] for s in sensitive if s in IMPLIED_LABEL)
    return ResourceMeta(
        resource_type, str(resource.get("id", "")), patients, holders_of(resource), labels,
        codes, sensitive, _recorded(resource, meta),
        tuple(_displayed_refs(resource)) if raw is None or _may_display(raw) else (),
    )  # fmt: skip


def _sensitive(labels: frozenset[str], codes: frozenset[tuple[str, str]]) -> frozenset[str]:
    found = {c.name for c in SENSITIVE if labels & c.labels}
    for system, code in codes:
        for c in SENSITIVE:
            if c.name in found:
                continue
            if _reveals(c, system, code):
                found.add(c.name)
    return frozenset(found)


def _reveals(category: SensitiveCategory, system: str, code: str) -> bool:
    if system in _DIAGNOSIS_SYSTEMS:
        return code[:3] in category.diagnoses
    if system == LOINC:
        return code in category.loinc
    return system == ATC and any(code.startswith(p) for p in category.atc)


def holders_of(resource: Mapping[str, Any]) -> frozenset[str]:
    found: set[str] = set()
    meta = resource.get("meta")
    source = meta.get("source") if isinstance(meta, dict) else None
    if isinstance(source, str):
        if source.startswith(FACILITY_SOURCE):
            found.add("facility:" + source.removeprefix(FACILITY_SOURCE))
        elif source.startswith(AGENT_SOURCE):
            found.add("agent:" + source.removeprefix(AGENT_SOURCE))
    kind = resource.get("resourceType")
    targets: list[Any] = []
    if kind == "Encounter":
        targets = [resource.get("serviceProvider")]
    elif kind == "ServiceRequest":
        targets = list(resource.get("performer") or [])
    for target in targets:
        ref = target.get("reference") if isinstance(target, dict) else None
        if isinstance(ref, str) and ref.startswith("Organization/"):
            found.add("facility:" + ref.removeprefix("Organization/"))
    return frozenset(found)


def _codes(resource: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for name in _CODE_FIELDS:
        value = resource.get(name)
        for concept in value if isinstance(value, list) else [value]:
            if not isinstance(concept, dict):
                continue
            for coding in concept.get("coding") or []:
                if isinstance(coding, dict) and isinstance(coding.get("code"), str):
                    yield str(coding.get("system", "")), coding["code"]


def _recorded(resource: Mapping[str, Any], meta: Mapping[str, Any]) -> int | None:
    candidates = [resource.get(name) for name in _DATE_FIELDS]
    period = resource.get("period")
    if isinstance(period, dict):
        candidates.append(period.get("start"))
    candidates.append(meta.get("lastUpdated"))
    for text in candidates:
        if isinstance(text, str):
            try:
                return date_range(text)[0]
            except ValueError:
                continue
    return None


_CLINICAL_REF_BYTES = tuple(f'"{t}/'.encode() for t in sorted(CLINICAL_TYPES))


def _may_display(raw: bytes) -> bool:
    return b'"display"' in raw and any(t in raw for t in _CLINICAL_REF_BYTES)


def _displayed_refs(value: Any, depth: int = 0) -> Iterator[str]:
    """Local references to clinical types that carry a ``display`` (three levels deep:
    ``Encounter.diagnosis[].condition`` is two)."""
    if depth > 3:
        return
    if isinstance(value, dict):
        ref = value.get("reference")
        if isinstance(ref, str) and "display" in value and ref.split("/", 1)[0] in CLINICAL_TYPES:
            yield ref
            return
        for key, child in value.items():
            if key not in ("meta", "text", "contained") and isinstance(child, (dict, list)):
                yield from _displayed_refs(child, depth + 1)
    elif isinstance(value, list):
        for child in value:
            yield from _displayed_refs(child, depth)


def redact_displays(resource: dict[str, Any], hidden: frozenset[str]) -> dict[str, Any]:
    """A copy of ``resource`` whose references to ``hidden`` targets lose their display
    (the reference stays: reading it goes through the decision point again)."""
    return _redact(resource, hidden)  # type: ignore[no-any-return]


def _redact(value: Any, hidden: frozenset[str]) -> Any:
    if isinstance(value, dict):
        if value.get("reference") in hidden and "display" in value:
            return {k: v for k, v in value.items() if k != "display"}
        return {k: _redact(v, hidden) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, hidden) for v in value]
    return value
