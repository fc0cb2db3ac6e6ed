"""Typed search-index values extracted from a resource at write time.

A resource's search values are computed once, when it is written, and stored in typed
index tables beside the JSON (HAPI's ``HFJ_SPIDX_*``, Medplum's lookup tables).  Searches
then compare typed columns and never parse JSON.  The in-memory repository matches these
same rows in Python, which makes it the reference every SQL backend must agree with.

Conventions shared by every backend:

* dates are ranges of integer microseconds since 1970-01-01T00:00:00Z, both ends inclusive
  (``2020`` is ``[2020-01-01T00:00:00, 2020-12-31T23:59:59.999999]``); a date without a
  time zone is read as UTC;
* numbers and quantities keep the value plus the range implied by its precision
  (``5.4`` is ``[5.35, 5.45)``, stored as ``low``/``high``);
* strings are stored twice: ``exact`` as written and ``value`` normalised by
  :func:`normalize_string` (case-folded, Latin accents removed, Hangul untouched);
* references keep the target type and id for local references, the absolute URL for
  others, and the Reference.identifier for ``:identifier`` searches.
"""

from __future__ import annotations

import operator
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


def normalize_string(text: str) -> str:
    """Case- and accent-insensitive form used by string search (FHIR R4 3.1.1.5.6).

    Only combining marks are dropped and the result is recomposed, so Hangul syllables
    stay whole: "기" must not be a prefix of "김".
    """
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return unicodedata.normalize("NFC", stripped).casefold().strip()


@dataclass(frozen=True, slots=True)
class TokenValue:
    param: str
    system: str | None
    code: str | None
    text: str | None = None  # normalised display/text, for :text


@dataclass(frozen=True, slots=True)
class StringValue:
    param: str
    value: str  # normalize_string(exact)
    exact: str


@dataclass(frozen=True, slots=True)
class DateValue:
    param: str
    low: int  # microseconds since epoch, inclusive
    high: int  # microseconds since epoch, inclusive


@dataclass(frozen=True, slots=True)
class NumberValue:
    param: str
    value: float
    low: float  # precision range, inclusive
    high: float  # precision range, exclusive


@dataclass(frozen=True, slots=True)
class QuantityValue:
    param: str
    value: float
    low: float
    high: float
    system: str | None
    code: str | None
    unit: str | None


@dataclass(frozen=True, slots=True)
class UriValue:
    param: str
    value: str


@dataclass(frozen=True, slots=True)
class ReferenceValue:
    param: str
    target_type: str | None  # "Patient" for "Patient/123"
    target_id: str | None  # "123"
    url: str | None = None  # absolute or canonical reference, kept whole
    identifier_system: str | None = None  # Reference.identifier, for :identifier
    identifier_value: str | None = None


ComponentValue = (
    TokenValue | QuantityValue | DateValue | StringValue | ReferenceValue | NumberValue | UriValue
)


@dataclass(frozen=True, slots=True)
class CompositeValue:
    """One composite match: the components come from the same element (e.g. one
    Observation.component), which is the point of composite search."""

    param: str
    components: tuple[ComponentValue, ...]


@dataclass(slots=True)
class ResourceIndex:
    """Everything a search can match for one resource version."""

    tokens: list[TokenValue] = field(default_factory=list)
    strings: list[StringValue] = field(default_factory=list)
    dates: list[DateValue] = field(default_factory=list)
    numbers: list[NumberValue] = field(default_factory=list)
    quantities: list[QuantityValue] = field(default_factory=list)
    uris: list[UriValue] = field(default_factory=list)
    references: list[ReferenceValue] = field(default_factory=list)
    composites: list[CompositeValue] = field(default_factory=list)

    def params(self) -> set[str]:
        """Names of the parameters that have at least one value (for ``:missing``)."""
        found: set[str] = set()
        for rows in (
            self.tokens,
            self.strings,
            self.dates,
            self.numbers,
            self.quantities,
            self.uris,
            self.references,
            self.composites,
        ):
            found.update(r.param for r in rows)
        return found


# -- the packed form --------------------------------------------------------------------
#: ``ResourceIndex`` as plain tuples, one per list in field order, each value as the tuple
#: of its fields in declaration order; a composite is ``(param, ((kind, *fields), ...))``
#: with ``kind`` the component's class name.  Tuples of str/int/float pickle about ten times
#: faster than the dataclasses (a bulk-import worker sends them to the writing process),
#: and the SQL store turns them into rows without building a dict per value.
PackedIndex = tuple[tuple[tuple[Any, ...], ...], ...]

_COMPONENTS: dict[str, Callable[..., ComponentValue]] = {
    cls.__name__: cls
    for cls in (TokenValue, StringValue, DateValue, NumberValue, QuantityValue, UriValue,
                ReferenceValue)
}  # fmt: skip


_FIELDS = tuple(
    operator.attrgetter(*cls.__slots__)
    for cls in (TokenValue, StringValue, DateValue, NumberValue, QuantityValue, UriValue,
                ReferenceValue)
)  # fmt: skip


def pack_index(index: ResourceIndex) -> PackedIndex:
    t, s, d, n, q, u, r = _FIELDS
    return (
        tuple(map(t, index.tokens)),
        tuple(map(s, index.strings)),
        tuple(map(d, index.dates)),
        tuple(map(n, index.numbers)),
        tuple(map(q, index.quantities)),
        tuple(map(u, index.uris)),
        tuple(map(r, index.references)),
        tuple((c.param, tuple(_pack_component(v) for v in c.components)) for c in index.composites),
    )


def _pack_component(value: ComponentValue) -> tuple[Any, ...]:
    fields = getattr(value, "__slots__", ())
    return (type(value).__name__, *(getattr(value, f) for f in fields))


def unpack_index(packed: PackedIndex) -> ResourceIndex:
    """The inverse of :func:`pack_index`."""
    tokens, strings, dates, numbers, quantities, uris, references, composites = packed
    return ResourceIndex(
        [TokenValue(*v) for v in tokens],
        [StringValue(*v) for v in strings],
        [DateValue(*v) for v in dates],
        [NumberValue(*v) for v in numbers],
        [QuantityValue(*v) for v in quantities],
        [UriValue(*v) for v in uris],
        [ReferenceValue(*v) for v in references],
        [
            CompositeValue(param, tuple(_COMPONENTS[c[0]](*c[1:]) for c in components))
            for param, components in composites
        ],
    )
