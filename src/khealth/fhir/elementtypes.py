"""The datatype of every element path, read from the R4 StructureDefinitions.

The FHIRPath compiler walks a search parameter's path through these definitions so that
it knows, before any resource arrives, the JSON key of each step (``value[x]`` read as
Quantity is ``valueQuantity``) and the datatype at the end (HumanName, Period,
Reference...), which decides how a value is indexed (R4 search 3.1.1.5).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from khealth.fhir.definitions import load_definition

#: Types whose children are defined inline in the owning StructureDefinition.
_INLINE_TYPES = frozenset({"BackboneElement", "Element"})

#: The FHIRPath system type R4 uses for ``id`` and ``url`` of elements and extensions.
_SYSTEM_STRING = "http://hl7.org/fhirpath/System.String"


@dataclass(frozen=True, slots=True)
class TypeNode:
    """Where a path stands: a StructureDefinition and an element path inside it.

    ``datatype`` is what the element holds: a primitive (``dateTime``), a complex type
    (``HumanName``), ``BackboneElement`` for inline parts, or the resource type at the root.
    """

    structure: str
    path: str
    datatype: str


@dataclass(frozen=True, slots=True)
class Child:
    key: str  # the JSON property: ``valueQuantity`` for value[x] as Quantity
    node: TypeNode


@functools.cache
def _elements() -> dict[str, dict[str, dict[str, Any]]]:
    """Snapshot elements by structure name, then by path, for resources and datatypes."""
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for name in ("profiles-types.json", "profiles-resources.json"):
        for entry in load_definition(name)["entry"]:
            sd = entry["resource"]
            if sd.get("resourceType") != "StructureDefinition":
                continue
            if sd.get("derivation") == "constraint" or sd.get("kind") == "logical":
                continue  # SimpleQuantity & co. share their base type's elements
            found[sd["id"]] = {e["path"]: e for e in sd["snapshot"]["element"]}
    return found


@functools.cache
def _resource_types() -> frozenset[str]:
    bundle = load_definition("profiles-resources.json")
    return frozenset(
        e["resource"]["id"]
        for e in bundle["entry"]
        if e["resource"].get("kind") == "resource" and not e["resource"].get("abstract")
    )


def is_resource_type(name: str) -> bool:
    """A concrete R4 resource type (not Resource, DomainResource or a datatype)."""
    return name in _resource_types()


def root(resource_type: str) -> TypeNode:
    if resource_type not in _elements():
        raise ValueError(f"unknown FHIR type: {resource_type}")
    return TypeNode(resource_type, resource_type, resource_type)


def children(node: TypeNode, name: str) -> tuple[Child, ...]:
    """The elements ``name`` may denote under ``node``: one, or one per type of a choice."""
    elements = _elements().get(node.structure, {})
    element = elements.get(f"{node.path}.{name}")
    choice = element is None
    if choice:
        element = elements.get(f"{node.path}.{name}[x]")
    if element is None:
        return ()
    path = f"{node.path}.{name}"
    reference = element.get("contentReference")
    if reference:  # e.g. Consent.provision.provision -> #Consent.provision
        return (Child(name, TypeNode(node.structure, reference.lstrip("#"), "BackboneElement")),)
    return tuple(_child(node.structure, path, name, t["code"], choice) for t in element["type"])


def _child(structure: str, path: str, name: str, code: str, choice: bool) -> Child:
    datatype = "string" if code == _SYSTEM_STRING else code
    key = name + datatype[0].upper() + datatype[1:] if choice else name
    if datatype in _INLINE_TYPES:
        return Child(key, TypeNode(structure, path, "BackboneElement"))
    return Child(key, TypeNode(datatype, datatype, datatype))
