"""One resource version made ready to store: validated, stamped, serialised and indexed.

Pure (no I/O, no access decision), so that it can run in another process: bulk import
prepares NDJSON lines in a worker (``khealth.ingest.prepare_pool``) while the record
session writes the previous batch.  The session itself still decides everything that
depends on the store or on the caller: access policy, compartments the caller may write
to, the current version, consent and the audit event (``RecordSession.upsert_prepared``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from khealth.access.context import AccessContext
from khealth.core.errors import InvalidResource, Issue, KhealthError, NotFound
from khealth.fhir.definitions import SUPPORTED_TYPES
from khealth.fhir.extract import extract, patient_compartments
from khealth.fhir.index import PackedIndex, ResourceIndex, pack_index
from khealth.fhir.validation import check_resource
from khealth.records.clock import Clock, format_instant
from khealth.records.consent_gate import stamp_source
from khealth.records.identifiers import protect_identifiers
from khealth.records.ports import StoredVersion

#: an escaped U+0000 in serialised JSON (not an escaped backslash followed by "u0000"):
#: FHIR strings SHOULD NOT hold control characters and PostgreSQL text cannot hold NUL
_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def require_supported(resource_type: str) -> None:
    if resource_type not in SUPPORTED_TYPES:
        raise NotFound([Issue("not-supported", f"resource type {resource_type} is not supported")])


def resource_type_of(resource: Any) -> str:
    if not isinstance(resource, dict):
        raise InvalidResource([Issue("structure", "the body must be a JSON object")])
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str):
        raise InvalidResource([Issue("required", "resourceType is missing", ("resourceType",))])
    require_supported(resource_type)
    return resource_type


def upsert_key(resource: Any) -> tuple[str, str] | KhealthError:
    """(type, id) of a resource to import, or why it cannot be imported."""
    try:
        resource_type = resource_type_of(resource)
    except KhealthError as error:
        return error
    id = resource.get("id")
    if not isinstance(id, str) or not id:
        return InvalidResource([Issue("required", "an imported resource needs an id", ("id",))])
    return resource_type, id


def prepare_version(
    ctx: AccessContext,
    clock: Clock,
    resource_type: str,
    id: str,
    resource: Any,
    expected: int | None,
    method: str = "PUT",
    rrn_key: bytes | None = None,
) -> tuple[StoredVersion, ResourceIndex, frozenset[str]]:
    """Validate, stamp meta, serialise and index one version (no I/O)."""
    body = dict(protect_identifiers(resource_type, resource, rrn_key))  # no plain RRN past here
    body["id"] = id
    check_resource(body)
    version = (expected or 0) + 1
    now = clock.now_us()
    meta = dict(body.get("meta") or {})
    stamp_source(meta, ctx, created=expected is None)
    meta["versionId"] = str(version)
    meta["lastUpdated"] = format_instant(now)
    body["meta"] = meta
    index = extract(body)
    compartments = patient_compartments(body, index)
    content = orjson.dumps(body)
    if b"\\u0000" in content and _NUL.search(content):
        raise InvalidResource([Issue("invalid", "strings must not contain NUL (U+0000)")])
    stored = StoredVersion(resource_type, id, version, now, False, content, method)
    return stored, index, compartments


# -- bulk import: one NDJSON line, prepared as a create ---------------------------------
#: What :func:`prepare_line` answers, as plain tuples (cheap to pickle between processes):
#: ``(type, id, last_updated, content, packed index, compartments)`` or
#: ``(status, ((code, diagnostics, expression, severity), ...))`` for a line that cannot
#: be stored.
PackedLine = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class PreparedCreate:
    """A line of an import file prepared as the first version of its resource.  Only
    :func:`unpack_line` makes these, from what :func:`prepare_line` answered."""

    key: tuple[str, str]
    version: StoredVersion
    index: PackedIndex
    compartments: frozenset[str]
    raw: bytes  # the line as read: the session prepares it again if the resource exists


def prepare_line(ctx: AccessContext, clock: Clock, raw: bytes) -> PackedLine:
    """Parse, check and prepare one NDJSON line as a create (version 1).  A worker
    process reads the installation's resident-number key from the same settings
    (``KHEALTH_DATA_DIR``) as its parent."""
    try:
        resource = parse_line(raw)
        key = upsert_key(resource)
        if isinstance(key, KhealthError):
            raise key
        stored, index, compartments = prepare_version(
            ctx, clock, key[0], key[1], resource, None, "PUT"
        )
    except KhealthError as error:
        issues = tuple((i.code, i.diagnostics, i.expression, i.severity) for i in error.issues)
        return (error.status, issues)
    return (
        key[0],
        key[1],
        stored.last_updated,
        stored.content,
        pack_index(index),
        tuple(compartments),
    )


def unpack_line(packed: PackedLine, raw: bytes) -> PreparedCreate | KhealthError:
    if len(packed) == 2:
        status, issues = packed
        return KhealthError([Issue(*i) for i in issues], status)
    resource_type, id, last_updated, content, index, compartments = packed
    version = StoredVersion(resource_type, id, 1, last_updated, False, content, "PUT")
    return PreparedCreate((resource_type, id), version, index, frozenset(compartments), raw)


def parse_line(raw: bytes) -> Any:
    """One NDJSON line as a JSON object, or a structure error."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise KhealthError([Issue("structure", "the line is not valid JSON")]) from None
    if not isinstance(value, dict):
        raise KhealthError([Issue("structure", "the line is not a JSON object")])
    return value
