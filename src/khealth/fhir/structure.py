"""The R4 structure model: the official StructureDefinitions compiled for the validator.

``profiles-types.json`` and ``profiles-resources.json`` (about 37 MB of JSON) are compiled
once per process into one :class:`TypeModel` per data type, resource and backbone element,
keyed by the *JSON property names* they allow.  A choice element ``value[x]`` becomes one
rule per allowed type (``valueQuantity``, ``valueString``...), so the validator finds the
rule for any property with one dict lookup and never parses a definition again.

Array-ness follows the *base* cardinality of each element, as the JSON format says
(FHIR R4 2.6.2.1: an element is an array when its base maximum is more than one).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from khealth.fhir.definitions import FHIR_VERSION, load_definition
from khealth.fhir.structure_codes import Expansion, ValueSetExpander
from khealth.fhir.structure_primitives import Check, primitive_checks, primitive_regexes

_SYSTEM_TYPE_PREFIX = "http://hl7.org/fhirpath/System."
_FHIR_TYPE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
_PROFILE_PREFIX = "http://hl7.org/fhir/StructureDefinition/"
_BACKBONE_TYPES = frozenset({"BackboneElement", "Element"})


@dataclass(frozen=True, slots=True)
class ElementRule:
    """What one JSON property of one type may hold."""

    key: str  # the JSON property name, e.g. "valueQuantity"
    label: str  # the type as named in diagnostics: "date", "reference", "Quantity"
    is_array: bool
    check: Check | None = None  # primitives: lexical and JSON-type check
    model: TypeModel | None = None  # data types and backbone elements
    is_resource: bool = False  # contained[], Bundle.entry.resource: any resource
    choice: str | None = None  # "value" for the value[x] rules
    codes: frozenset[str] | None = None  # required binding on a `code`
    codings: Expansion | None = None  # required binding on a Coding / CodeableConcept
    value_set: str = ""  # the bound value set, for diagnostics


@dataclass(frozen=True, slots=True)
class TypeModel:
    """One data type, resource or backbone element.

    The containers are filled while compiling (types refer to each other in cycles:
    Extension.extension, Identifier.assigner.identifier) and never changed afterwards.
    """

    name: str
    is_resource: bool = False
    elements: dict[str, ElementRule] = field(default_factory=dict)
    #: (element name, the JSON keys any one of which satisfies min >= 1)
    required: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    prohibited: set[str] = field(default_factory=set)  # max = 0 in a constraint
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)  # "value" -> keys


@dataclass(frozen=True, slots=True)
class StructureModel:
    resources: dict[str, TypeModel]  # concrete resource types by name
    element: TypeModel  # `Element`: what a primitive's `_name` sibling may hold


@functools.cache
def structure_model() -> StructureModel:
    """The compiled R4 model; built on first use, shared by the whole process."""
    return compile_structure(
        load_definition("profiles-types.json"),
        load_definition("profiles-resources.json"),
        load_definition("valuesets.json"),
    )


def compile_structure(
    types_bundle: Mapping[str, Any],
    resources_bundle: Mapping[str, Any],
    valuesets_bundle: dict[str, Any],
) -> StructureModel:
    definitions = _structure_definitions(types_bundle) + _structure_definitions(resources_bundle)
    compiler = _Compiler(definitions, types_bundle, ValueSetExpander(valuesets_bundle))
    return compiler.compile()


def _structure_definitions(bundle: Mapping[str, Any]) -> list[dict[str, Any]]:
    # The packaged bundle also carries R4B's SubscriptionStatus (fhirVersion 4.3.0): not R4.
    return [
        entry["resource"]
        for entry in bundle["entry"]
        if entry["resource"].get("resourceType") == "StructureDefinition"
        and entry["resource"].get("kind") in ("complex-type", "resource")
        and entry["resource"].get("fhirVersion") == FHIR_VERSION
    ]


def _is_concrete_resource(definition: Mapping[str, Any]) -> bool:
    return definition["kind"] == "resource" and not definition.get("abstract", False)


class _Compiler:
    def __init__(
        self,
        definitions: list[dict[str, Any]],
        types_bundle: Mapping[str, Any],
        expander: ValueSetExpander,
    ) -> None:
        self._definitions = definitions
        self._expander = expander
        self._checks = primitive_checks(primitive_regexes(types_bundle))
        self._resource_types = frozenset(d["id"] for d in definitions if _is_concrete_resource(d))
        self._checks["reference"] = reference_check(self._resource_types)
        # Models by StructureDefinition id, then by (definition id, backbone element path).
        self._models = {
            d["id"]: TypeModel(d["id"], is_resource=d["kind"] == "resource") for d in definitions
        }
        self._backbones: dict[tuple[str, str], TypeModel] = {}

    def compile(self) -> StructureModel:
        for definition in self._definitions:
            self._declare_backbones(definition)
        for definition in self._definitions:
            self._fill(definition)
        resources = {name: self._models[name] for name in sorted(self._resource_types)}
        return StructureModel(resources=resources, element=self._models["Element"])

    def _declare_backbones(self, definition: Mapping[str, Any]) -> None:
        elements = definition["snapshot"]["element"]
        for element in elements[1:]:
            codes = {t["code"] for t in element.get("type", ())}
            if codes and codes <= _BACKBONE_TYPES:
                key = (definition["id"], element["path"])
                self._backbones[key] = TypeModel(element["path"])

    def _fill(self, definition: Mapping[str, Any]) -> None:
        elements = definition["snapshot"]["element"]
        root = elements[0]["path"]
        for element in elements[1:]:
            parent_path, _, name = element["path"].rpartition(".")
            if parent_path == root:
                parent = self._models[definition["id"]]
            else:
                parent = self._backbones[(definition["id"], parent_path)]
            self._add_element(definition, parent, name, element)

    def _add_element(
        self, definition: Mapping[str, Any], parent: TypeModel, name: str, element: Any
    ) -> None:
        rules = self._rules(definition, name, element)
        if element["max"] == "0":
            parent.prohibited.update(rule.key for rule in rules)
            return
        for rule in rules:
            parent.elements[rule.key] = rule
        choice = rules[0].choice
        if choice is not None:
            parent.choices[choice] = tuple(r.key for r in rules)
        if element["min"] >= 1:
            keys = [r.key for r in rules] + [f"_{r.key}" for r in rules if r.check is not None]
            parent.required.append((name.removesuffix("[x]"), tuple(keys)))

    def _rules(self, definition: Mapping[str, Any], name: str, element: Any) -> list[ElementRule]:
        is_array = element["base"]["max"] != "1"
        if "contentReference" in element:
            model = self._backbones[(definition["id"], element["contentReference"][1:])]
            return [ElementRule(name, model.name, is_array, model=model)]
        if name.endswith("[x]"):
            base = name[:-3]
            return [
                self._rule(definition, _choice_key(base, t), t, element, choice=base)
                for t in element["type"]
            ]
        (type_,) = element["type"]  # outside choices every R4 element has exactly one type
        return [self._rule(definition, name, type_, element, choice=None)]

    def _rule(
        self,
        definition: Mapping[str, Any],
        key: str,
        type_: Any,
        element: Any,
        choice: str | None,
    ) -> ElementRule:
        is_array = element["base"]["max"] != "1"
        code = _fhir_type(type_)
        if _is_resource_id(definition, element):
            code = "id"  # R4 types Resource.id as System.String, but the spec says `id`
        elif element["path"] == "Reference.reference":
            code = "reference"
        if code in self._checks:
            codes, value_set = self._bound_codes(element)
            return ElementRule(
                key, code, is_array, check=self._checks[code], choice=choice,
                codes=None if codes is None else frozenset(c for _, c in codes),
                value_set=value_set,
            )  # fmt: skip
        if code == "Resource":
            return ElementRule(key, code, is_array, is_resource=True, choice=choice)
        model = self._complex_model(definition, element, code, type_)
        codings, value_set = self._bound_codes(element)
        return ElementRule(
            key, code, is_array, model=model, choice=choice, codings=codings, value_set=value_set
        )

    def _complex_model(
        self, definition: Mapping[str, Any], element: Any, code: str, type_: Any
    ) -> TypeModel:
        if code in _BACKBONE_TYPES:
            return self._backbones[(definition["id"], element["path"])]
        for profile in type_.get("profile", ()):
            # Quantity(SimpleQuantity) and the like: the constraint has its own snapshot.
            constrained = self._models.get(profile.removeprefix(_PROFILE_PREFIX))
            if constrained is not None:
                return constrained
        return self._models[code]

    def _bound_codes(self, element: Any) -> tuple[Expansion | None, str]:
        binding = element.get("binding")
        if not binding or binding.get("strength") != "required" or "valueSet" not in binding:
            return None, ""
        value_set: str = binding["valueSet"].split("|", 1)[0]
        return self._expander.expand(value_set), value_set


def _choice_key(base: str, type_: Mapping[str, Any]) -> str:
    code: str = type_["code"]
    return f"{base}{code[0].upper()}{code[1:]}"  # value[x] + Quantity -> valueQuantity


def _fhir_type(type_: Mapping[str, Any]) -> str:
    """The FHIR type code; System.* types name theirs in an extension (Element.id...)."""
    code: str = type_["code"]
    if not code.startswith(_SYSTEM_TYPE_PREFIX):
        return code
    for extension in type_.get("extension", ()):
        if extension["url"] == _FHIR_TYPE_EXTENSION:
            return str(extension["valueUrl"])
    return "string"


def _is_resource_id(definition: Mapping[str, Any], element: Mapping[str, Any]) -> bool:
    return bool(definition["kind"] == "resource" and element["path"] == f"{definition['id']}.id")


_ID = r"[A-Za-z0-9\-.]{1,64}"
_REFERENCE = re.compile(
    rf"(?:(?P<type>[A-Za-z]+)/{_ID}(?:/_history/{_ID})?"
    r"|https?://\S+"
    rf"|#{_ID}|#"
    r"|urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"|urn:oid:[0-2](?:\.(?:0|[1-9][0-9]*))+)",
    re.ASCII,
)


def reference_check(resource_types: frozenset[str]) -> Check:
    """Reference.reference: relative ``Type/id[/_history/vid]``, absolute http(s) URL,
    ``#local`` (a contained resource, or ``#`` for the container), ``urn:uuid:`` or
    ``urn:oid:`` (FHIR R4 2.3.0.1 "Literal references")."""
    fullmatch = _REFERENCE.fullmatch

    def check(value: object) -> bool:
        if type(value) is not str:
            return False
        match = fullmatch(value)
        if match is None:
            return False
        type_name = match["type"]
        return type_name is None or type_name in resource_types

    return check


def names_unknown_type(reference: str, resource_types: Mapping[str, Any]) -> bool:
    """True when ``reference`` is shaped like ``Type/id`` but Type is not an R4 resource."""
    match = _REFERENCE.fullmatch(reference)
    if match is None or match["type"] is None:
        return False
    return str(match["type"]) not in resource_types
