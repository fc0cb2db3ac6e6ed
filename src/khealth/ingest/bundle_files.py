"""Import of one JSON file: a Bundle or a single resource, in one record session.

Import keeps the ids the source gave (as FHIR Bulk Data import does), so that running
the same file again makes nothing twice:

- ``transaction`` and ``batch`` Bundles whose entries are all plain POST/PUT of a
  resource (no ``ifNoneExist``/``ifMatch``, no conditional URL or reference), Synthea's
  shape, take the fast path: each resource is stored under its own id (the PUT URL's
  id, else ``resource.id``, else the uuid of a ``urn:uuid:`` fullUrl) with
  update-as-create, after every fullUrl reference was rewritten to ``Type/id``.
- any other ``transaction``/``batch`` runs with full transaction semantics
  (:class:`khealth.records.bundles.TransactionRunner`): conditional creates and
  references are honoured and POSTs without an id get a server id.
- ``collection`` and ``searchset`` Bundles store each ``entry.resource`` under its id.

A transaction is atomic: one bad entry rejects the whole Bundle (under ``skip`` the run
goes on with the next file, and the Bundle is retried by the next run).  In a batch or
a collection each bad entry is reported and skipped (``skip``) or stops the run.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from khealth.core.errors import Forbidden, InvalidRequest, Issue, KhealthError
from khealth.fhir.definitions import SUPPORTED_TYPES
from khealth.ingest.bulk_import import FileProgress
from khealth.records.bundles import TransactionRunner, parse_entries
from khealth.records.references import rewrite_references
from khealth.records.service import RecordSession, WriteResult

if TYPE_CHECKING:
    from khealth.ingest.bulk_import import BulkImporter

UUID_PREFIX = "urn:uuid:"
STORED_TYPES = ("collection", "searchset")


class _Rejected(Exception):
    """A transaction Bundle failed under ``skip``: roll it back, go on with the next file."""

    def __init__(self, where: str, error: KhealthError, entries: int) -> None:
        super().__init__(where)
        self.where = where
        self.error = error
        self.entries = entries


def import_json_file(importer: BulkImporter, path: Path, job_id: str) -> None:
    size = path.stat().st_size
    stored = 0
    try:
        with importer.records.begin(importer.ctx, "import") as rs:
            if FileProgress.from_job(rs.get_job(job_id)).done:
                importer.summary.files_skipped += 1
            else:
                stored = _store_body(importer, rs, path, _load(path))
                importer.save(rs, job_id, FileProgress(size, 0, True))
    except _Rejected as rejected:
        note = " (transaction rejected: nothing of this file stored)"
        failure = [(rejected.where, rejected.error)]
        importer.fail(path, failure, note, count=max(1, rejected.entries))
    importer.progress.advance(size, stored)


def _load(path: Path) -> Any:
    try:
        value = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError:
        return InvalidRequest([Issue("structure", "the file is not valid JSON")])
    if not isinstance(value, dict):
        return InvalidRequest([Issue("structure", "the file is not a JSON object")])
    return value


def _store_body(importer: BulkImporter, rs: RecordSession, path: Path, body: Any) -> int:
    if isinstance(body, KhealthError):
        return _reject(importer, path, body, 0)
    if body.get("resourceType") != "Bundle":
        return _store_resources(importer, rs, path, [body], atomic=False, where="resource")
    kind = body.get("type")
    entries = body.get("entry") or []
    if not isinstance(entries, list):
        error = InvalidRequest([Issue("structure", "Bundle.entry is not a list")])
        return _reject(importer, path, error, 0)
    if kind in STORED_TYPES:
        resources = _with_ids(entries, require_request=False)
        if resources is None:
            error = InvalidRequest([Issue("required", "every entry needs a resource with an id")])
            return _reject(importer, path, error, len(entries))
        return _store_resources(importer, rs, path, resources, atomic=False)
    fast = _with_ids(entries, require_request=True)
    if fast is not None and kind in ("transaction", "batch"):
        return _store_resources(importer, rs, path, fast, atomic=kind == "transaction")
    return _run_transaction(importer, rs, path, body, len(entries))


def _reject(importer: BulkImporter, path: Path, error: KhealthError, entries: int) -> int:
    """The whole file fails: stop the run (``stop``) or roll the file back (``skip``)."""
    if importer.options.on_error == "stop":
        importer.fail(path, [("Bundle", error)])  # raises ImportStopped
    raise _Rejected("Bundle", error, entries)


def _store_resources(
    importer: BulkImporter,
    rs: RecordSession,
    path: Path,
    resources: list[Any],
    atomic: bool,
    where: str = "entry",
) -> int:
    outcomes = rs.upsert_many(resources)
    failures = [
        (f"{where}[{i}]" if where == "entry" else where, o)
        for i, o in enumerate(outcomes)
        if isinstance(o, KhealthError)
    ]
    if failures and atomic and importer.options.on_error == "skip":
        raise _Rejected(*failures[0], len(resources))
    importer.fail(path, failures)
    written = [o for o in outcomes if isinstance(o, WriteResult)]
    importer.summary.count(written)
    return len(written)


def _run_transaction(
    importer: BulkImporter, rs: RecordSession, path: Path, body: Any, entries: int
) -> int:
    """Full transaction/batch semantics (conditional creates and references)."""
    responses: list[dict[str, Any] | None]
    try:
        kind, parsed = parse_entries(body)
        if kind == "transaction":
            responses = list(TransactionRunner(rs).run(parsed))
        else:
            responses = [_batch_entry(importer, rs, path, e) for e in parsed]
    except Forbidden:
        raise
    except KhealthError as error:
        return _reject(importer, path, error, entries)
    statuses = [str(r.get("status", "")) for r in responses if r]
    created = sum(1 for s in statuses if s.startswith("201"))
    updated = sum(1 for s in statuses if s.startswith("200"))  # unchanged ones included
    importer.summary.created += created
    importer.summary.updated += updated
    return created + updated


def _batch_entry(
    importer: BulkImporter, rs: RecordSession, path: Path, entry: Any
) -> dict[str, Any] | None:
    try:
        return TransactionRunner(rs).run([entry])[0]
    except Forbidden:
        raise
    except KhealthError as error:
        importer.fail(path, [(f"entry[{entry.position}]", error)])
        return None


def _with_ids(entries: list[Any], require_request: bool) -> list[Any] | None:
    """The entries' resources, each with its id and with fullUrl references rewritten to
    ``Type/id``; None when some entry does not fit the plain shape."""
    mapping: dict[str, str] = {}
    resources: list[Any] = []
    for entry in entries:
        found = _plain_entry(entry, require_request)
        if found is None:
            return None
        resource_type, id, resource = found
        if isinstance(entry.get("fullUrl"), str):
            mapping[entry["fullUrl"]] = f"{resource_type}/{id}"
        resources.append(resource if resource.get("id") == id else {**resource, "id": id})
    rewritten = [rewrite_references(r, mapping) for r in resources]
    if any(_has_conditional_reference(r) for r in rewritten):
        return None
    return rewritten


def _plain_entry(entry: Any, require_request: bool) -> tuple[str, str, dict[str, Any]] | None:
    if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
        return None
    resource: dict[str, Any] = entry["resource"]
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str) or resource_type not in SUPPORTED_TYPES:
        return None
    url_id = None
    if require_request:
        request = entry.get("request")
        if not isinstance(request, dict) or request.keys() - {"method", "url"}:
            return None  # ifNoneExist, ifMatch, ...: needs the full semantics
        method, url = request.get("method"), request.get("url")
        if method == "POST" and url == resource_type:
            pass
        elif method == "PUT" and isinstance(url, str) and url.startswith(f"{resource_type}/"):
            url_id = url.split("/", 1)[1]
        else:
            return None
    id = url_id or resource.get("id") or _uuid_of(entry.get("fullUrl"))
    if not isinstance(id, str) or "?" in id or "/" in id:
        return None
    return resource_type, id, resource


def _uuid_of(full_url: Any) -> str | None:
    if isinstance(full_url, str) and full_url.startswith(UUID_PREFIX):
        return full_url.removeprefix(UUID_PREFIX)
    return None


def _has_conditional_reference(node: Any) -> bool:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("reference")
            if isinstance(ref, str) and "?" in ref and not ref.startswith(("http", "urn:")):
                return True
            stack.extend(v for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend(v for v in item if isinstance(v, dict | list))
    return False
