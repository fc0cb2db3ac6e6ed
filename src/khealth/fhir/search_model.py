"""A parsed FHIR search, independent of how any backend runs it.

``khealth.fhir.search_parse.parse_search`` turns query parameters into a
:class:`SearchQuery`; the in-memory repository matches it against
:class:`~khealth.fhir.index.ResourceIndex` rows, the SQL repositories compile it to SQL.
Within a criterion the values are ORed (comma); criteria are ANDed (repeated params).
(FHIR R4 search, http://hl7.org/fhir/R4/search.html)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Prefix(StrEnum):
    EQ = "eq"
    NE = "ne"
    GT = "gt"
    LT = "lt"
    GE = "ge"
    LE = "le"
    SA = "sa"
    EB = "eb"
    AP = "ap"


@dataclass(frozen=True, slots=True)
class TokenSearch:
    """``[system]|[code]``: system None = any system; system "" = no system (``|code``);
    code None = any code in the system (``system|``)."""

    system: str | None
    code: str | None


@dataclass(frozen=True, slots=True)
class StringSearch:
    value: str  # normalize_string() form (exact form kept in ``raw``)
    raw: str


@dataclass(frozen=True, slots=True)
class DateSearch:
    prefix: Prefix
    low: int  # the search value's own range, microseconds, inclusive
    high: int


@dataclass(frozen=True, slots=True)
class NumberSearch:
    prefix: Prefix
    value: float
    low: float  # implicit precision range [low, high)
    high: float


@dataclass(frozen=True, slots=True)
class QuantitySearch:
    prefix: Prefix
    value: float
    low: float
    high: float
    system: str | None  # None = any
    code: str | None  # matched against code, or unit when no system is given


@dataclass(frozen=True, slots=True)
class UriSearch:
    value: str


@dataclass(frozen=True, slots=True)
class ReferenceSearch:
    """``Patient/123``, ``123`` (type from modifier or any), or an absolute URL."""

    target_type: str | None
    target_id: str | None
    url: str | None = None


SearchValue = (
    TokenSearch
    | StringSearch
    | DateSearch
    | NumberSearch
    | QuantitySearch
    | UriSearch
    | ReferenceSearch
)


@dataclass(frozen=True, slots=True)
class CompositeSearch:
    components: tuple[SearchValue, ...]


@dataclass(frozen=True, slots=True)
class Criterion:
    """One search parameter occurrence.

    ``param_type`` is the SearchParameter type (token, string, date, number, quantity,
    uri, reference, composite, special).  ``modifier`` is one of exact, contains, missing,
    not, text, identifier, below, above, of-type, or None.  For ``:missing`` the value is
    in ``missing`` and ``values`` is empty.  ``_id`` and ``_lastUpdated`` arrive here too,
    as token and date criteria: backends read them from the resource row.
    """

    param: str
    param_type: str
    values: tuple[SearchValue | CompositeSearch, ...]
    modifier: str | None = None
    missing: bool | None = None


@dataclass(frozen=True, slots=True)
class Chain:
    """``subject:Patient.name=kim``: resources whose ``reference_param`` points at a
    ``target_type`` resource matching ``criterion`` (which may itself be a Chain)."""

    reference_param: str
    target_type: str
    criterion: Criterion | Chain


@dataclass(frozen=True, slots=True)
class Has:
    """``_has:Observation:patient:code=1234-5``: resources referenced through
    ``reference_param`` by a ``source_type`` resource matching ``criterion``."""

    source_type: str
    reference_param: str
    criterion: Criterion | Chain | Has


Clause = Criterion | Chain | Has


class TotalMode(StrEnum):
    NONE = "none"
    ESTIMATE = "estimate"
    ACCURATE = "accurate"


@dataclass(frozen=True, slots=True)
class SortKey:
    param: str  # a search parameter code, or _id / _lastUpdated
    param_type: str
    descending: bool = False


@dataclass(frozen=True, slots=True)
class Include:
    """``_include=Observation:subject:Patient`` / ``_revinclude=Observation:subject``.

    For _include ``source_type`` is the type holding the reference; for _revinclude too
    (the included resources are of ``source_type``).  ``param`` "*" means every
    reference parameter."""

    source_type: str
    param: str
    target_type: str | None = None
    iterate: bool = False
    reverse: bool = False


@dataclass(frozen=True, slots=True)
class SearchQuery:
    resource_type: str | None  # None = system-level search across types
    clauses: tuple[Clause, ...] = ()
    sort: tuple[SortKey, ...] = ()
    count: int = 20
    offset: int = 0
    #: paging snapshot: only resources first stored at or before this store sequence
    #: number take part, so that later pages are not shifted by creates made meanwhile
    snapshot: int | None = None
    total: TotalMode = TotalMode.NONE
    summary: str | None = None  # true | text | data | count | false
    elements: tuple[str, ...] = ()
    includes: tuple[Include, ...] = ()
    revincludes: tuple[Include, ...] = ()
    types: tuple[str, ...] = ()  # _type, for system-level search
    #: parameters that were ignored under ``Prefer: handling=lenient`` (echoed in the self link)
    ignored: tuple[str, ...] = field(default=())
