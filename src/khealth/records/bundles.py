"""Transaction and batch Bundles (http://hl7.org/fhir/R4/http.html#transaction).

A transaction runs in one record session: every entry succeeds or nothing is stored.
Entries are processed DELETE, POST, PUT/PATCH, then GET; ``urn:uuid:`` full URLs and
conditional references (``Patient?identifier=...``) are resolved to ``Type/id`` before
any resource is written.  A batch runs each entry in its own session and reports each
entry's outcome.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from khealth.access.context import AccessContext
from khealth.core.errors import InvalidRequest, Issue, KhealthError, NotFound, PreconditionFailed
from khealth.fhir.definitions import SUPPORTED_TYPES
from khealth.fhir.search_parse import parse_search
from khealth.records.clock import format_instant
from khealth.records.ports import StoredVersion
from khealth.records.references import rewrite_references
from khealth.records.service import Records, RecordSession, WriteResult, load_json

ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}


@dataclass(slots=True)
class Entry:
    position: int
    method: str
    url: str
    full_url: str | None
    resource: Any
    if_none_exist: str | None
    if_match: int | None


def parse_entries(bundle: Any) -> tuple[str, list[Entry]]:
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise InvalidRequest([Issue("invalid", "POST to the base needs a Bundle", ("Bundle",))])
    kind = bundle.get("type")
    if kind not in ("transaction", "batch"):
        raise InvalidRequest(
            [Issue("invalid", "Bundle.type must be transaction or batch", ("Bundle.type",))]
        )
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise InvalidRequest(
            [Issue("structure", "Bundle.entry must be an array", ("Bundle.entry",))]
        )
    return kind, [_entry(i, e) for i, e in enumerate(entries)]


def _entry(i: int, raw: Any) -> Entry:
    where = f"Bundle.entry[{i}]"
    if not isinstance(raw, dict) or not isinstance(raw.get("request"), dict):
        raise InvalidRequest(
            [Issue("required", "each entry needs a request", (f"{where}.request",))]
        )
    request = raw["request"]
    method = request.get("method")
    url = request.get("url")
    if method not in ORDER or not isinstance(url, str) or not url:
        raise InvalidRequest(
            [
                Issue(
                    "invalid", "entry request needs a known method and a url", (f"{where}.request",)
                )
            ]
        )
    if_match = request.get("ifMatch")
    return Entry(
        position=i,
        method=method,
        url=url.lstrip("/"),
        full_url=raw.get("fullUrl"),
        resource=raw.get("resource"),
        if_none_exist=request.get("ifNoneExist"),
        if_match=_etag_version(if_match) if if_match else None,
    )


def _etag_version(etag: str) -> int:
    text = etag.removeprefix("W/").strip('"')
    if not text.isdigit():
        raise InvalidRequest([Issue("invalid", 'If-Match must be a version ETag like W/"3"')])
    return int(text)


def _split(url: str) -> tuple[str, str | None, str | None]:
    """``Patient/1`` → (Patient, 1, None); ``Patient?x=y`` → (Patient, None, "x=y")."""
    parts = urlsplit(url)
    path = parts.path.strip("/").split("/")
    resource_type = path[0]
    if resource_type not in SUPPORTED_TYPES:
        raise NotFound([Issue("not-supported", f"resource type {resource_type} is not supported")])
    return resource_type, (path[1] if len(path) > 1 and path[1] else None), (parts.query or None)


def _entry_error(entry: Entry, error: KhealthError) -> KhealthError:
    """Prefix every issue with the entry, so the caller knows which one failed."""
    issues = [
        Issue(
            i.code,
            f"Bundle.entry[{entry.position}]: {i.diagnostics}",
            tuple(
                f"Bundle.entry[{entry.position}].resource.{e.split('.', 1)[-1]}"
                for e in i.expression
            )
            or (f"Bundle.entry[{entry.position}]",),
            i.severity,
        )
        for i in error.issues
    ]
    return type(error)(issues, error.status)


class TransactionRunner:
    def __init__(self, rs: RecordSession) -> None:
        self.rs = rs
        self.mapping: dict[str, str] = {}

    def run(self, entries: list[Entry]) -> list[dict[str, Any]]:
        for e in entries:
            if e.method in ("POST", "PUT") and not isinstance(e.resource, dict):
                raise _entry_error(e, InvalidRequest([Issue("required", "entry needs a resource")]))
            if e.method in ("POST", "PUT") and e.resource.get("resourceType") != _split(e.url)[0]:
                raise _entry_error(
                    e, InvalidRequest([Issue("invalid", "resourceType does not match request.url")])
                )
        self._assign_ids(entries)
        self._resolve_conditional_references(entries)
        responses: dict[int, dict[str, Any]] = {}
        # an ifNoneExist POST that matched is "MATCHED" by now: it runs with the POSTs
        for e in sorted(entries, key=lambda e: ORDER.get(e.method, ORDER["POST"])):
            try:
                responses[e.position] = self._execute(e)
            except KhealthError as error:
                raise _entry_error(e, error) from None
        self.rs.flush()
        return [responses[e.position] for e in entries]

    def _assign_ids(self, entries: list[Entry]) -> None:
        for e in entries:
            try:
                if e.method == "POST":
                    resource_type, _, _ = _split(e.url)
                    existing = (
                        self.rs.conditional_match(resource_type, e.if_none_exist)
                        if e.if_none_exist
                        else None
                    )
                    target = existing.id if existing else str(uuid.uuid4())
                    e.url = resource_type if existing is None else f"{resource_type}/{target}"
                    self._map(e, f"{resource_type}/{target}", existing is not None)
                elif e.method == "PUT":
                    resource_type, id, query = _split(e.url)
                    if query:
                        match = self.rs.conditional_match(resource_type, query)
                        given = e.resource.get("id") if isinstance(e.resource, dict) else None
                        id = (
                            match.id
                            if match
                            else (given if isinstance(given, str) else str(uuid.uuid4()))
                        )
                        e.url = f"{resource_type}/{id}"
                    if id is None:
                        raise InvalidRequest(
                            [Issue("invalid", "PUT needs Type/id or Type?criteria")]
                        )
                    self._map(e, f"{resource_type}/{id}", False)
            except KhealthError as error:
                raise _entry_error(e, error) from None

    def _map(self, e: Entry, reference: str, matched_existing: bool) -> None:
        if e.full_url:
            self.mapping[e.full_url] = reference
        e.method = "MATCHED" if matched_existing else e.method
        if isinstance(e.resource, dict) and e.method in ("POST", "PUT"):
            e.resource = {**e.resource, "id": reference.split("/", 1)[1]}

    def _resolve_conditional_references(self, entries: list[Entry]) -> None:
        for e in entries:
            if not isinstance(e.resource, dict):
                continue
            for ref in _conditional_references(e.resource):
                if ref in self.mapping:
                    continue
                resource_type, _, query = _split(ref)
                match = self.rs.conditional_match(resource_type, query or "")
                if match is None:
                    raise _entry_error(
                        e,
                        PreconditionFailed(
                            [Issue("not-found", "a conditional reference matches nothing")]
                        ),
                    )
                self.mapping[ref] = f"{resource_type}/{match.id}"
            e.resource = rewrite_references(e.resource, self.mapping)

    def _execute(self, e: Entry) -> dict[str, Any]:
        if e.method == "MATCHED":
            matched_type, matched_id = e.url.split("/", 1)
            return _response("200 OK", self.rs.read(matched_type, matched_id))
        resource_type, id, query = _split(e.url)
        if e.method == "POST":
            return _write_response(self.rs.create(e.resource, id=self.mapping_id(e)))
        if e.method == "PUT":
            return _write_response(self.rs.update(resource_type, id or "", e.resource, e.if_match))
        if e.method == "PATCH":
            return _write_response(
                self.rs.patch(resource_type, id or "", _patch_body(e), e.if_match)
            )
        if e.method == "DELETE":
            if id is None:
                raise InvalidRequest(
                    [Issue("not-supported", "conditional delete is not supported in bundles")]
                )
            self.rs.delete(resource_type, id)
            return {"status": "204 No Content"}
        if id is not None:
            return _response("200 OK", self.rs.read(resource_type, id))
        page = self.rs.search(parse_search(resource_type, parse_qsl(query or "")))
        return {"status": "200 OK", "outcome": None, "searchCount": len(page.page.matches)}

    def mapping_id(self, e: Entry) -> str:
        assert isinstance(e.resource, dict)
        return str(e.resource["id"])


def _patch_body(e: Entry) -> Any:
    """A PATCH entry carries its JSON Patch as a Binary resource (FHIR R4 §3.1.0.11)."""
    import base64

    import orjson

    if isinstance(e.resource, dict) and e.resource.get("resourceType") == "Binary":
        try:
            return orjson.loads(base64.b64decode(str(e.resource.get("data", "")), validate=True))
        except (ValueError, orjson.JSONDecodeError):  # binascii.Error is a ValueError
            raise InvalidRequest(
                [Issue("invalid", "the Binary's data is not a base64 JSON Patch", ("data",))]
            ) from None
    raise InvalidRequest([Issue("invalid", "a PATCH entry needs a Binary with a JSON Patch")])


def _conditional_references(node: Any) -> list[str]:
    """References written as searches (``Patient?identifier=...``), found in one walk."""
    found: list[str] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("reference")
            if (
                isinstance(ref, str)
                and "?" in ref
                and not ref.startswith(("http:", "https:", "urn:"))
            ):
                found.append(ref)
            stack.extend(v for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend(v for v in item if isinstance(v, dict | list))
    return found


def _response(status: str, stored: StoredVersion) -> dict[str, Any]:
    return {
        "status": status,
        "location": f"{stored.resource_type}/{stored.id}/_history/{stored.version}",
        "etag": f'W/"{stored.version}"',
        "lastModified": format_instant(stored.last_updated),
    }


def _write_response(result: WriteResult) -> dict[str, Any]:
    return _response("201 Created" if result.created else "200 OK", result.stored)


def run_bundle(
    records: Records,
    ctx: AccessContext,
    bundle: Any,
    representation: Callable[[StoredVersion], Any] | None = None,
) -> dict[str, Any]:
    kind, entries = parse_entries(bundle)
    if kind == "transaction":
        with records.begin(ctx, "transaction") as rs:
            responses = TransactionRunner(rs).run(entries)
        return {"resourceType": "Bundle", "type": "transaction-response",
                "entry": [{"response": r} for r in responses]}  # fmt: skip
    out = []
    for e in entries:
        try:
            with records.begin(ctx, "batch") as rs:
                runner = TransactionRunner(rs)
                out.append({"response": runner.run([e])[0]})
        except KhealthError as error:
            out.append(
                {"response": {"status": _status_line(error.status), "outcome": error.outcome()}}
            )
    return {"resourceType": "Bundle", "type": "batch-response", "entry": out}


def _status_line(status: int) -> str:
    from http import HTTPStatus

    return f"{status} {HTTPStatus(status).phrase}"


__all__ = ["load_json", "run_bundle"]
