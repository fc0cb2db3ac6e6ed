"""Parse a FHIR search request into a :class:`~khealth.fhir.search_model.SearchQuery`.

FHIR R4 search, http://hl7.org/fhir/R4/search.html: search parameters become clauses
(:mod:`khealth.fhir.search_clauses`, values in :mod:`khealth.fhir.search_values`); the
result parameters ``_sort`` ``_count`` ``_offset`` ``_total`` ``_summary`` ``_elements``
``_include`` ``_revinclude`` ``_type`` (§3.1.1.5–3.1.1.8) are read here.

Every error is an :class:`~khealth.core.errors.InvalidRequest` naming the parameter; values
are never echoed because they are often identifiers.  Under ``Prefer: handling=lenient``
unknown or unsupported *parameters* are dropped and listed in ``SearchQuery.ignored``;
malformed values of known parameters still fail.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from khealth.fhir.definitions import SUPPORTED_TYPES
from khealth.fhir.search_clauses import UnknownParameter, lookup, parse_clause
from khealth.fhir.search_model import Clause, Include, SearchQuery, SortKey, TotalMode
from khealth.fhir.search_values import name_of, search_error
from khealth.fhir.searchparams import SearchParamDef, search_params

#: Result parameters that may appear once (a second one would be ambiguous).
SINGLE_VALUED = frozenset({"_count", "_offset", "_snapshot", "_sort", "_total", "_summary"})
SUMMARY_MODES = frozenset({"true", "text", "data", "count", "false"})
#: ``_format`` values meaning JSON; ``+`` may arrive as a space after form decoding.
JSON_FORMATS = frozenset(
    {"json", "application/json", "application/fhir+json", "application/json+fhir"}
)
_COUNT = re.compile(r"[0-9]{1,18}")
_ELEMENT = re.compile(r"([A-Z][A-Za-z]+\.)?[a-z][A-Za-z0-9]*(\[x\])?")


def parse_search(
    resource_type: str | None,
    params: list[tuple[str, str]],
    *,
    lenient: bool = False,
    default_count: int = 20,
    max_count: int = 1000,
) -> SearchQuery:
    """The search a request asks for; ``resource_type`` None is a system-level search.

    ``params`` are the query (or ``_search`` form body) pairs in order, URL-decoded once.
    An empty value (``name=``) is ignored, as most servers do.
    """
    if resource_type is not None and resource_type not in SUPPORTED_TYPES:
        raise search_error("type", f"{name_of(resource_type)} is not searchable", "not-supported")
    results = ResultParams(resource_type, default_count, max_count)
    clauses: list[Clause] = []
    ignored: list[str] = []
    for name, value in params:
        if name == "":  # "?&a=1" and stray "=" carry nothing
            continue
        try:
            if results.take(name, value):
                continue
            clause = parse_clause(resource_type, name, value, name)
        except UnknownParameter as unknown:
            if not lenient:
                raise unknown.error from None
            ignored.append(name)
            continue
        if clause is not None:
            clauses.append(clause)
    results.check_includes()
    return results.query(tuple(clauses), tuple(ignored))


class ResultParams:
    """Collects the result parameters of one search (they shape the Bundle, not the match)."""

    def __init__(self, resource_type: str | None, default_count: int, max_count: int) -> None:
        self.resource_type = resource_type
        self.max_count = max_count
        self.count = min(default_count, max_count)
        self.offset = 0
        self.snapshot: int | None = None
        self.sort: tuple[SortKey, ...] = ()
        self.total = TotalMode.NONE
        self.summary: str | None = None
        self.elements: list[str] = []
        self.includes: list[Include] = []
        self.revincludes: list[Include] = []
        self.types: list[str] = []
        self._seen: set[str] = set()
        self._handlers: dict[str, Callable[[str], None]] = {
            "_count": self._count,
            "_offset": self._offset,
            "_snapshot": self._snapshot,
            "_sort": self._sort,
            "_total": self._total,
            "_summary": self._summary,
            "_elements": self._elements,
            "_type": self._type,
            "_format": self._format,
            "_pretty": lambda _value: None,
        }

    def take(self, name: str, value: str) -> bool:
        """Consume ``name=value`` if it is a result parameter; False for search parameters."""
        base, _, modifier = name.partition(":")
        if base in ("_include", "_revinclude"):
            self._include(name, base == "_revinclude", modifier, value)
            return True
        handler = self._handlers.get(base)
        if handler is None:
            return False
        if modifier:
            raise search_error(name, "takes no modifier")
        if base in SINGLE_VALUED:
            if base in self._seen:
                raise search_error(name, "may be given only once")
            self._seen.add(base)
        if value != "":
            handler(value)
        return True

    def query(self, clauses: tuple[Clause, ...], ignored: tuple[str, ...]) -> SearchQuery:
        return SearchQuery(
            resource_type=self.resource_type,
            clauses=clauses,
            sort=self.sort,
            count=self.count,
            offset=self.offset,
            snapshot=self.snapshot,
            total=self.total,
            summary=self.summary,
            elements=tuple(dict.fromkeys(self.elements)),
            includes=tuple(self.includes),
            revincludes=tuple(self.revincludes),
            types=tuple(dict.fromkeys(self.types)),
            ignored=ignored,
        )

    def _count(self, value: str) -> None:
        # _count=0 asks for the total only; more than the cap is quietly capped (§3.1.1.5.6)
        self.count = min(_non_negative("_count", value), self.max_count)

    def _offset(self, value: str) -> None:
        self.offset = _non_negative("_offset", value)

    def _snapshot(self, value: str) -> None:
        self.snapshot = _non_negative("_snapshot", value)

    def _total(self, value: str) -> None:
        try:
            self.total = TotalMode(value)
        except ValueError:
            raise search_error("_total", "takes none, estimate or accurate") from None

    def _summary(self, value: str) -> None:
        if value not in SUMMARY_MODES:
            raise search_error("_summary", "takes true, text, data, count or false")
        self.summary = value

    def _elements(self, value: str) -> None:
        for element in value.split(","):
            if not _ELEMENT.fullmatch(element):
                raise search_error("_elements", "takes a comma list of element names")
            self.elements.append(element)

    def _type(self, value: str) -> None:
        if self.resource_type is not None:
            raise UnknownParameter(
                search_error("_type", "applies to system-level search only", "not-supported")
            )
        for name in value.split(","):
            if name not in SUPPORTED_TYPES:
                raise search_error("_type", f"{name_of(name)} is not searchable", "not-supported")
            self.types.append(name)

    def _format(self, value: str) -> None:
        media_type = value.split(";", 1)[0].strip().lower().replace(" ", "+")
        if media_type not in JSON_FORMATS:
            raise search_error("_format", "only JSON is offered", "not-supported")

    def _sort(self, value: str) -> None:
        keys: list[SortKey] = []
        for item in value.split(","):
            descending = item.startswith("-")
            code = item[1:] if descending else item
            keys.append(SortKey(code, self._sort_type(code), descending))
        self.sort = tuple(keys)

    def _sort_type(self, code: str) -> str:
        try:
            definition = lookup(self.resource_type, code, "_sort")
        except UnknownParameter:
            raise search_error("_sort", f"cannot sort by {name_of(code)}") from None
        if definition.type == "composite":
            raise search_error("_sort", f"cannot sort by composite {code}", "not-supported")
        return definition.type

    def _include(self, name: str, reverse: bool, modifier: str, value: str) -> None:
        """``Type:param[:targetType]``, ``Type:*`` or ``*``; ``:iterate`` (alias ``:recurse``)."""
        if modifier not in ("", "iterate", "recurse"):
            raise search_error(name, f"unknown modifier :{name_of(modifier)}")
        if value == "":
            return
        include = self._include_value(name, value, reverse, iterate=modifier != "")
        (self.revincludes if reverse else self.includes).append(include)

    def _include_value(self, name: str, value: str, reverse: bool, iterate: bool) -> Include:
        if value == "*":
            if self.resource_type is None:
                raise search_error(name, "a system-level search needs Type:parameter")
            return Include(self.resource_type, "*", None, iterate, reverse)
        parts = value.split(":")
        if len(parts) not in (2, 3) or not all(parts):
            raise search_error(name, "takes Type:parameter[:targetType]")
        source_type, param = parts[0], parts[1]
        target_type = parts[2] if len(parts) == 3 else None
        if param == "*":
            _source_params(source_type, name)
            if target_type is not None:
                raise search_error(name, "Type:* takes no target type")
        else:
            definition = _include_definition(source_type, param, name)
            if target_type is not None and target_type not in definition.targets:
                raise search_error(name, f"{name_of(target_type)} is not a target of {param}")
        return Include(source_type, param, target_type, iterate, reverse)

    def check_includes(self) -> None:
        """Without ``:iterate`` an include must start from the resources being searched."""
        searched = self.resource_type
        if searched is None:
            return
        for include in self.includes:
            if not include.iterate and include.source_type != searched:
                raise search_error("_include", f"must start from {searched} (or use :iterate)")
        for include in self.revincludes:
            if include.iterate or include.param == "*":
                continue
            targets = search_params(include.source_type)[include.param].targets
            wanted = include.target_type or searched
            if wanted != searched or (targets and searched not in targets):
                raise search_error("_revinclude", f"must point at {searched} (or use :iterate)")


def _non_negative(name: str, value: str) -> int:
    if not _COUNT.fullmatch(value):
        raise search_error(name, "takes a non-negative integer")
    return int(value)


def _source_params(source_type: str, name: str) -> dict[str, SearchParamDef]:
    if source_type not in SUPPORTED_TYPES:
        raise search_error(name, f"{name_of(source_type)} is not searchable", "not-supported")
    return search_params(source_type)


def _include_definition(source_type: str, param: str, name: str) -> SearchParamDef:
    """The reference parameter an ``_include``/``_revinclude`` follows."""
    definition = _source_params(source_type, name).get(param)
    if definition is None:
        raise search_error(name, f"{source_type} has no search parameter {name_of(param)}")
    if definition.type != "reference":
        raise search_error(name, f"{source_type}:{param} is not a reference parameter")
    return definition
