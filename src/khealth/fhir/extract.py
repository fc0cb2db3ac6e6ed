"""Every search value of a resource, computed at write time (R4 search 3.1.1).

Each (resource type, parameter) expression is compiled once into branches
(:mod:`khealth.fhir.fhirpath_compile`); each branch ends at an element of known datatype
and gets the converter for its parameter's search type (:mod:`khealth.fhir.index_values`).
Branches are grouped by the resource's top-level key they start from, so extraction
walks only the elements a resource actually has.

The Patient compartment (``compartmentdefinition-patient.json``) is derived from the same
reference rows: a resource belongs to Patient ``p`` when one of the parameters listed
for its type holds the local reference ``Patient/p``.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from khealth.core.errors import KhealthError
from khealth.fhir import elementtypes
from khealth.fhir.definitions import load_definition
from khealth.fhir.fhirpath_compile import (
    Branch,
    Selector,
    Uncompilable,
    compile_expression,
    make_selector,
)
from khealth.fhir.index import CompositeValue, ResourceIndex
from khealth.fhir.index_values import NATURAL_SEARCH_TYPE, Converter, converter
from khealth.fhir.searchparams import (
    RESOURCE_COLUMNS,
    SearchParamDef,
    definition_by_url,
    search_params,
)

#: Position of each search type's list in ResourceIndex (and in the buckets of _run).
_BUCKET_OF = {
    "token": 0, "string": 1, "date": 2, "number": 3, "quantity": 4, "uri": 5, "reference": 6,
    "composite": 7,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Skipped:
    """A parameter that is not indexed, and why (listed by ``bench/bench_extract.py``)."""

    resource_type: str
    code: str
    expression: str
    reason: str


@dataclass(frozen=True, slots=True)
class _Compiled:
    param: str
    bucket: int
    select: Selector  # applied to the items under the first key (or to [resource])
    convert: Converter


@dataclass(frozen=True, slots=True)
class _Plan:
    by_key: dict[str, tuple[_Compiled, ...]]
    from_root: tuple[_Compiled, ...]  # branches that read the whole resource
    skipped: tuple[Skipped, ...]


def extract(resource: dict[str, Any]) -> ResourceIndex:
    """The values of every search parameter of ``resource``'s type, de-duplicated."""
    return _run(_plan(_resource_type(resource)), resource)


def uncompiled(resource_type: str) -> tuple[Skipped, ...]:
    """Parameters of ``resource_type`` this module does not index."""
    return _plan(resource_type).skipped


def patient_compartments(
    resource: dict[str, Any], index: ResourceIndex | None = None
) -> frozenset[str]:
    """Ids of the Patients whose compartment holds ``resource`` (R4 CompartmentDefinition).

    Only local references (``Patient/123``) count: an absolute URL may name another server.
    Pass the resource's ``index`` when it is already extracted to avoid a second pass.
    """
    resource_type = _resource_type(resource)
    params = compartment_params().get(resource_type, frozenset())
    found: set[str] = set()
    if resource_type == "Patient" and type(resource.get("id")) is str:
        found.add(resource["id"])
    if params:
        if index is None:
            index = _run(_plan(resource_type, params), resource)
        found.update(
            r.target_id
            for r in index.references
            if r.param in params and r.target_type == "Patient" and r.url is None and r.target_id
        )
    return frozenset(found)


@functools.cache
def compartment_params() -> dict[str, frozenset[str]]:
    """Resource type -> the parameters that put it in a Patient compartment."""
    definition = load_definition("compartmentdefinition-patient.json")
    return {
        entry["code"]: frozenset(entry["param"])
        for entry in definition["resource"]
        if entry.get("param")
    }


def _resource_type(resource: dict[str, Any]) -> str:
    resource_type = resource.get("resourceType")
    if type(resource_type) is not str or not elementtypes.is_resource_type(resource_type):
        raise KhealthError.of("not-supported", "unknown or missing resourceType")
    return resource_type


# --- running -------------------------------------------------------------------------------


def _run(plan: _Plan, resource: dict[str, Any]) -> ResourceIndex:
    buckets: tuple[list[Any], ...] = ([], [], [], [], [], [], [], [])
    by_key = plan.by_key
    for key, value in resource.items():
        branches = by_key.get(key)
        if branches is not None:
            _apply(branches, value if type(value) is list else [value], buckets)
    if plan.from_root:
        _apply(plan.from_root, [resource], buckets)
    rows = [_unique(b) for b in buckets]
    return ResourceIndex(*rows)


def _apply(branches: Iterable[_Compiled], items: list[Any], buckets: tuple[list[Any], ...]) -> None:
    for branch in branches:
        out = buckets[branch.bucket]
        convert, param = branch.convert, branch.param
        for element in branch.select(items):
            convert(param, element, out)


def _unique(rows: list[Any]) -> list[Any]:
    """Drop repeated rows; each row carries its parameter, so this is per parameter."""
    return list(dict.fromkeys(rows)) if len(rows) > 1 else rows


# --- planning ------------------------------------------------------------------------------


@functools.cache
def _plan(resource_type: str, only: frozenset[str] | None = None) -> _Plan:
    root = elementtypes.root(resource_type)
    by_key: dict[str, list[_Compiled]] = {}
    from_root: list[_Compiled] = []
    skipped: list[Skipped] = []
    for code, definition in sorted(search_params(resource_type).items()):
        if code in RESOURCE_COLUMNS or (only is not None and code not in only):
            continue
        try:
            compiled = _compile_param(definition, root)
        except Uncompilable as error:
            skipped.append(Skipped(resource_type, code, definition.expression, str(error)))
            continue
        for first_key, branch in compiled:
            target = from_root if first_key is None else by_key.setdefault(first_key, [])
            target.append(branch)
    frozen = {key: tuple(branches) for key, branches in by_key.items()}
    return _Plan(frozen, tuple(from_root), tuple(skipped))


def _compile_param(
    definition: SearchParamDef, root: elementtypes.TypeNode
) -> list[tuple[str | None, _Compiled]]:
    if not definition.expression:
        raise Uncompilable(f"no expression (a {definition.type} parameter the server computes)")
    if definition.type == "special":
        raise Uncompilable("special parameters need their own index (e.g. Location near)")
    branches = compile_expression(definition.expression, root)
    compiled = []
    for branch in branches:
        convert = _branch_converter(definition, branch)
        if convert is None:
            continue  # e.g. SampledData for a quantity: the spec defines no value for it
        first_key, select = _split_first_key(branch)
        compiled.append((first_key, _Compiled(definition.code, _BUCKET_OF[definition.type],
                                               select, convert)))  # fmt: skip
    if not compiled:
        raise Uncompilable(f"no branch has an indexable {definition.type} datatype")
    return compiled


def _split_first_key(branch: Branch) -> tuple[str | None, Selector]:
    """Start at the resource's top-level key when the branch begins with one."""
    if branch.steps and branch.steps[0].key is not None:
        return branch.steps[0].key, make_selector(branch.steps[1:])
    return None, make_selector(branch.steps)


def _branch_converter(definition: SearchParamDef, branch: Branch) -> Converter | None:
    if definition.type == "composite":
        return _composite_converter(definition, branch)
    return converter(definition.type, branch.node.datatype)


# --- composites ----------------------------------------------------------------------------

_Part = tuple[Selector, Converter]


def _composite_converter(definition: SearchParamDef, base: Branch) -> Converter:
    """Rows pairing components read from the *same* base element (one Observation.component).

    Each component is compiled relative to the base element and typed by its own
    SearchParameter; a composite row is emitted per combination of component values.
    """
    components: list[tuple[str, list[_Part]]] = []
    for component in definition.components:
        component_definition = definition_by_url(component.definition)
        if component_definition is None:
            raise Uncompilable(f"unknown component definition {component.definition}")
        parts = _component_parts(component_definition, component.expression, base)
        components.append((component_definition.code, parts))

    # The last component (the value) is most often absent, so it is read first: most
    # Observations then stop before computing code tokens for composites they lack.
    backwards = components[::-1]

    def convert(param: str, element: Any, out: list[Any]) -> None:
        values: list[list[Any]] = []
        for code, parts in backwards:
            rows: list[Any] = []
            for select, convert_part in parts:
                for value in select([element]):
                    convert_part(code, value, rows)
            if not rows:
                return
            values.append(list(dict.fromkeys(rows)))
        values.reverse()
        out.extend(CompositeValue(param, combo) for combo in itertools.product(*values))

    return convert


def _component_parts(component: SearchParamDef, expression: str, base: Branch) -> list[_Part]:
    parts: list[_Part] = []
    for branch in compile_expression(expression, base.node):
        datatype = branch.node.datatype
        convert = converter(component.type, datatype)
        if convert is None and datatype in NATURAL_SEARCH_TYPE:
            convert = converter(NATURAL_SEARCH_TYPE[datatype], datatype)
        if convert is not None:
            parts.append((make_selector(branch.steps), convert))
    if not parts:
        raise Uncompilable(f"component {expression} selects nothing indexable")
    return parts
