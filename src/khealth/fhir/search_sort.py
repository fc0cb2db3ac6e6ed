"""Sort keys for search results (``_sort``), shared by the in-memory backend and tests.

Ascending order uses a resource's smallest value of the parameter and descending its
largest (what HAPI and Medplum do); resources without a value sort last either way, and
ties fall back to the store sequence so that paging is stable.
"""

from __future__ import annotations

from khealth.fhir.index import ResourceIndex
from khealth.fhir.search_model import SortKey

SortValue = tuple[int, float | str]


def sort_value(
    index: ResourceIndex, key: SortKey, resource_id: str, last_updated: int
) -> SortValue:
    """(0, value) when present, (1, "") when missing, so that missing sorts last."""
    values: list[float | str]
    if key.param == "_id":
        values = [resource_id]
    elif key.param == "_lastUpdated":
        values = [float(last_updated)]
    elif key.param_type == "date":
        rows = [d for d in index.dates if d.param == key.param]
        values = [float(d.high if key.descending else d.low) for d in rows]
    elif key.param_type == "string":
        values = [s.value for s in index.strings if s.param == key.param]
    elif key.param_type == "token":
        # a text-only row (a CodeableConcept's text, kept for :text) has no code to sort by
        values = [t.code for t in index.tokens if t.param == key.param and t.code is not None]
    elif key.param_type == "number":
        values = [n.value for n in index.numbers if n.param == key.param]
    elif key.param_type == "quantity":
        values = [q.value for q in index.quantities if q.param == key.param]
    elif key.param_type == "reference":
        # by the local id, as the SQL stores do: an absolute URL or identifier-only row has none
        values = [r.target_id for r in index.references if r.param == key.param and r.target_id]
    elif key.param_type == "uri":
        values = [u.value for u in index.uris if u.param == key.param]
    else:
        values = []
    if not values:
        return (1, "")
    chosen = max(values, key=_order) if key.descending else min(values, key=_order)
    return (0, chosen)


def _order(value: float | str) -> tuple[int, float, str]:
    """Values of one parameter share a type; this only makes the comparison typed."""
    return (0, value, "") if isinstance(value, float) else (1, 0.0, value)
