"""FHIR search semantics over extracted index rows, in plain Python.

This is the reference behaviour: the in-memory repository uses it directly and the SQL
repositories must agree with it (the property tests check that).  Prefix semantics follow
FHIR R4 search §3.1.1.4 (ranges: a target matches ``eq`` when the search range contains
it, ``gt`` when some of it lies above the search range, and so on).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from khealth.fhir.index import (
    ComponentValue,
    CompositeValue,
    DateValue,
    NumberValue,
    QuantityValue,
    ReferenceValue,
    ResourceIndex,
    StringValue,
    TokenValue,
    UriValue,
)
from khealth.fhir.search_model import (
    CompositeSearch,
    Criterion,
    DateSearch,
    NumberSearch,
    Prefix,
    QuantitySearch,
    ReferenceSearch,
    SearchValue,
    StringSearch,
    TokenSearch,
    UriSearch,
)


def range_matches(prefix: Prefix, low: float, high: float, t_low: float, t_high: float) -> bool:
    """Compare a target range [t_low, t_high] with a search range [low, high]."""
    if prefix is Prefix.EQ:
        return low <= t_low and t_high <= high
    if prefix is Prefix.NE:
        return not (low <= t_low and t_high <= high)
    if prefix is Prefix.GT:
        return t_high > high
    if prefix is Prefix.LT:
        return t_low < low
    if prefix is Prefix.GE:
        return t_high >= low
    if prefix is Prefix.LE:
        return t_low <= high
    if prefix is Prefix.SA:
        return t_low > high
    if prefix is Prefix.EB:
        return t_high < low
    # ap: overlapping once the search range is widened by 10 % of its magnitude
    slack = max(abs(high - low), abs(low) * 0.1, abs(high) * 0.1)
    return t_low <= high + slack and t_high >= low - slack


def number_matches(search: NumberSearch | QuantitySearch, value: float) -> bool:
    """Numbers compare the stored value with the search value's precision range."""
    p = search.prefix
    if p is Prefix.EQ:
        return search.low <= value < search.high
    if p is Prefix.NE:
        return not (search.low <= value < search.high)
    if p in (Prefix.GT, Prefix.SA):
        return value > search.value
    if p in (Prefix.LT, Prefix.EB):
        return value < search.value
    if p is Prefix.GE:
        return value >= search.value
    if p is Prefix.LE:
        return value <= search.value
    return abs(value - search.value) <= abs(search.value) * 0.1


def token_matches(search: TokenSearch, row: TokenValue) -> bool:
    if search.code is not None and row.code != search.code:
        return False
    if search.system is None:
        return search.code is not None
    if search.system == "":
        return row.system is None
    return row.system == search.system


def string_matches(search: StringSearch, row: StringValue, modifier: str | None) -> bool:
    if modifier == "exact":
        return row.exact == search.raw
    if modifier == "contains":
        return search.value in row.value
    return row.value.startswith(search.value)


def quantity_matches(search: QuantitySearch, row: QuantityValue) -> bool:
    if search.system is not None and row.system != search.system:
        return False
    if search.code is not None:
        if search.system is None:
            if search.code not in (row.code, row.unit):
                return False
        elif row.code != search.code:
            return False
    if math.isnan(row.value):  # a Range: its ends are the target range
        return range_matches(search.prefix, search.low, search.high, row.low, row.high)
    return number_matches(search, row.value)


def reference_matches(search: ReferenceSearch, row: ReferenceValue) -> bool:
    if search.url is not None:
        return row.url == search.url
    if search.target_id is not None and row.target_id != search.target_id:
        return False
    return search.target_type is None or row.target_type == search.target_type


def uri_matches(search: UriSearch, row: UriValue, modifier: str | None) -> bool:
    if modifier == "below":
        return row.value.startswith(search.value)
    if modifier == "above":
        return search.value.startswith(row.value)
    return row.value == search.value


def value_matches(value: SearchValue, row: ComponentValue, modifier: str | None) -> bool:
    """One search value against one index row of the matching kind."""
    if isinstance(value, TokenSearch) and isinstance(row, TokenValue):
        if modifier == "text":
            return row.text is not None and row.text.startswith((value.code or "").casefold())
        return token_matches(value, row)
    if isinstance(value, TokenSearch) and isinstance(row, ReferenceValue):  # :identifier
        return token_matches(
            value, TokenValue(row.param, row.identifier_system, row.identifier_value)
        )
    if isinstance(value, StringSearch) and isinstance(row, StringValue):
        return string_matches(value, row, modifier)
    if isinstance(value, DateSearch) and isinstance(row, DateValue):
        return range_matches(value.prefix, value.low, value.high, row.low, row.high)
    if isinstance(value, QuantitySearch) and isinstance(row, QuantityValue):
        return quantity_matches(value, row)
    if isinstance(value, NumberSearch) and isinstance(row, NumberValue):
        return number_matches(value, row.value)
    if isinstance(value, UriSearch) and isinstance(row, UriValue):
        return uri_matches(value, row, modifier)
    if isinstance(value, ReferenceSearch) and isinstance(row, ReferenceValue):
        return reference_matches(value, row)
    return False


def composite_matches(search: CompositeSearch, row: CompositeValue) -> bool:
    if len(search.components) != len(row.components):
        return False
    return all(
        value_matches(v, r, None) for v, r in zip(search.components, row.components, strict=True)
    )


def rows_for(index: ResourceIndex, criterion: Criterion) -> list[ComponentValue | CompositeValue]:
    """The index rows a criterion looks at: its parameter's rows of its type."""
    kinds: dict[str, Callable[[], list[ComponentValue | CompositeValue]]] = {
        "token": lambda: list(index.tokens),
        "string": lambda: list(index.strings),
        "date": lambda: list(index.dates),
        "number": lambda: list(index.numbers),
        "quantity": lambda: list(index.quantities),
        "uri": lambda: list(index.uris),
        "reference": lambda: list(index.references),
        "composite": lambda: list(index.composites),
    }
    pick = kinds.get(criterion.param_type)
    rows = pick() if pick else []
    return [r for r in rows if r.param == criterion.param]


def criterion_matches(
    index: ResourceIndex, criterion: Criterion, resource_id: str, last_updated: int
) -> bool:
    """Does a resource (its index, id and lastUpdated) satisfy one criterion?"""
    if criterion.param == "_id":
        ids = {v.code for v in criterion.values if isinstance(v, TokenSearch)}
        hit = resource_id in ids
        return not hit if criterion.modifier == "not" else hit
    if criterion.param == "_lastUpdated":
        return any(
            isinstance(v, DateSearch)
            and range_matches(v.prefix, v.low, v.high, last_updated, last_updated)
            for v in criterion.values
        )
    rows = rows_for(index, criterion)
    if criterion.modifier == "missing":
        return (not rows) if criterion.missing else bool(rows)
    hit = any(_one_matches(v, r, criterion.modifier) for v in criterion.values for r in rows)
    return not hit if criterion.modifier == "not" else hit


def _one_matches(
    value: SearchValue | CompositeSearch, row: ComponentValue | CompositeValue, modifier: str | None
) -> bool:
    if isinstance(value, CompositeSearch):
        return isinstance(row, CompositeValue) and composite_matches(value, row)
    if isinstance(row, CompositeValue):
        return False
    inner = None if modifier in ("not", "missing") else modifier
    return value_matches(value, row, inner)
