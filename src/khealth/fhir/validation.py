"""Structural validation of R4 resources, run on every write.

What the HL7 validator and HAPI check before profiles (FHIR R4 2.6.2 "JSON Representation"
and 2.24 "Data Types"): known resource type, no unknown properties, JSON shapes and
cardinalities, primitive formats, choice types, required bindings that the core definitions
enumerate, literal reference formats, and the JSON rules on empty values and ``null``.
The rules come from :mod:`khealth.fhir.structure`, compiled once per process.

Privacy invariant: diagnostics never quote a value from the resource.  Expressions name
elements only; a property name that does not look like a FHIR element name is replaced,
since it may be data put in the wrong place.
"""

from __future__ import annotations

import re
from typing import Any

from khealth.core.errors import InvalidResource, Issue
from khealth.fhir.structure import ElementRule, TypeModel, names_unknown_type, structure_model

#: Deeper nesting is refused; real resources stay well under 20 levels.
MAX_DEPTH = 64
#: Issues reported per resource; one more, informational, says that the list was cut.
MAX_ISSUES = 100

_ELEMENT_NAME = re.compile(r"_?[A-Za-z][A-Za-z0-9_]{0,63}", re.ASCII)


def validate_resource(resource: object) -> list[Issue]:
    """Every structural problem of ``resource`` (parsed JSON); ``[]`` when it is valid."""
    issues: list[Issue] = []
    try:
        _check_resource(resource, "", issues, depth=0, is_contained=False)
    except _TooManyIssues:
        issues.append(
            Issue("invalid", f"Validation stopped after {MAX_ISSUES} issues", (), "information")
        )
    return issues


def check_resource(resource: object) -> None:
    """Raise :class:`InvalidResource` (422) listing every issue when ``resource`` is invalid."""
    issues = validate_resource(resource)
    if issues:
        raise InvalidResource(issues)


def is_known_resource_type(name: str) -> bool:
    """True for the concrete R4 resource types (``Patient``, ``Bundle``; not ``Resource``)."""
    return name in structure_model().resources


class _TooManyIssues(Exception):
    """Unwinds the walk once MAX_ISSUES are collected."""


def _report(issues: list[Issue], code: str, diagnostics: str, expression: str) -> None:
    issues.append(Issue(code, diagnostics, (expression,) if expression else ()))
    if len(issues) >= MAX_ISSUES:
        raise _TooManyIssues


def _check_resource(
    resource: object, path: str, issues: list[Issue], depth: int, is_contained: bool
) -> None:
    """A resource root: top level, or the value of contained[] / entry.resource."""
    if type(resource) is not dict:
        _report(issues, "structure", f"{path or 'The resource'} must be a JSON object", path)
        return
    resource_type = resource.get("resourceType")
    where = f"{path}.resourceType" if path else "resourceType"
    if resource_type is None:
        _report(issues, "required", f"{where} is required", where)
        return
    model = structure_model().resources.get(resource_type) if type(resource_type) is str else None
    if model is None:
        _report(issues, "invalid", f"{where} is not a known FHIR R4 resource type", where)
        return
    path = path or model.name
    if is_contained and "contained" in resource:
        # dom-2: a contained resource SHALL NOT contain additional contained resources.
        _report(issues, "structure", f"{path}.contained is not allowed here", f"{path}.contained")
    _check_object(resource, model, path, issues, depth + 1)


def _check_object(
    obj: dict[str, Any], model: TypeModel, path: str, issues: list[Issue], depth: int
) -> None:
    # The hot loop of bulk import: kept in one function, primitives checked inline.
    if depth > MAX_DEPTH:
        _report(issues, "structure", f"Elements are nested more than {MAX_DEPTH} levels", path)
        return
    elements = model.elements
    chosen: set[str] | None = None
    for key, value in obj.items():
        rule = elements.get(key)
        if rule is None:
            _check_other_property(obj, key, value, model, path, issues, depth)
            continue
        if rule.choice is not None:
            if chosen is None:
                chosen = {rule.choice}
            elif rule.choice in chosen:
                _report_second_choice(rule, path, issues)
            else:
                chosen.add(rule.choice)
        if rule.is_array:
            _check_array(obj, key, value, rule, path, issues, depth)
        elif rule.check is not None:
            if not rule.check(value):
                _report_primitive(value, rule, f"{path}.{key}", issues)
            elif rule.codes is not None and value not in rule.codes:
                _report_code(rule, f"{path}.{key}", issues)
        elif type(value) is list:
            _report(issues, "structure", f"{path}.{key} must not be an array", f"{path}.{key}")
        else:
            _check_complex(value, rule, f"{path}.{key}", issues, depth)
    for name, keys in model.required:
        for key in keys:
            if key in obj:
                break
        else:
            _report(issues, "required", f"{path}.{name} is required", f"{path}.{name}")


def _check_array(
    obj: dict[str, Any],
    key: str,
    value: object,
    rule: ElementRule,
    path: str,
    issues: list[Issue],
    depth: int,
) -> None:
    if type(value) is not list:
        _report(issues, "structure", f"{path}.{key} must be an array", f"{path}.{key}")
        return
    if not value:
        _report(issues, "structure", f"{path}.{key} must not be an empty array", f"{path}.{key}")
        return
    check = rule.check
    if check is None:
        for index, item in enumerate(value):
            _check_complex(item, rule, f"{path}.{key}[{index}]", issues, depth)
        return
    codes = rule.codes
    for index, item in enumerate(value):
        if not check(item):
            if item is not None or not _has_extension_at(obj, key, index):
                _report_primitive(item, rule, f"{path}.{key}[{index}]", issues)
        elif codes is not None and item not in codes:
            _report_code(rule, f"{path}.{key}[{index}]", issues)


def _check_complex(
    value: object, rule: ElementRule, path: str, issues: list[Issue], depth: int
) -> None:
    if type(value) is not dict:
        what = "a JSON object" if value is not None else "a JSON object, not null"
        _report(issues, "structure", f"{path} must be {what}", path)
    elif rule.is_resource:
        _check_resource(value, path, issues, depth, is_contained=rule.key == "contained")
    elif not value:
        _report(issues, "structure", f"{path} must not be an empty object", path)
    else:
        assert rule.model is not None  # a compiled rule is a primitive, a resource or a model
        _check_object(value, rule.model, path, issues, depth + 1)
        if rule.codings is not None:
            _check_coded_binding(value, rule, path, issues)


def _check_coded_binding(
    value: dict[str, Any], rule: ElementRule, path: str, issues: list[Issue]
) -> None:
    """A required binding on a CodeableConcept (or Coding): one coding must be in the set."""
    assert rule.codings is not None
    codings = value.get("coding", ()) if rule.label == "CodeableConcept" else (value,)
    for coding in codings if type(codings) is list or type(codings) is tuple else ():
        if type(coding) is dict and (coding.get("system"), coding.get("code")) in rule.codings:
            return
    _report(
        issues,
        "code-invalid",
        f"{path} has no coding from the required value set {rule.value_set}",
        path,
    )


def _check_other_property(
    obj: dict[str, Any],
    key: str,
    value: object,
    model: TypeModel,
    path: str,
    issues: list[Issue],
    depth: int,
) -> None:
    """A property that is not an element of ``model``: ``_x``, resourceType or an error."""
    if key == "resourceType" and model.is_resource:
        return  # checked by _check_resource
    if type(key) is not str:  # only possible for dicts that did not come from JSON
        key = ""
    rule = model.elements.get(key[1:]) if key.startswith("_") else None
    if rule is not None and rule.check is not None:
        _check_primitive_extension(obj, key, value, rule, path, issues, depth)
        return
    name = key if _ELEMENT_NAME.fullmatch(key) else "<unrecognised name>"
    if key in model.prohibited:
        _report(issues, "structure", f"{path}.{name} is not allowed here", f"{path}.{name}")
        return
    diagnostics = f"{path}.{name} is not a known element"
    for base in model.choices:
        if key.startswith(base) and key[len(base) : len(base) + 1].isupper():
            diagnostics = f"{path}.{name} is not an allowed type for {base}[x]"
            break
    _report(issues, "structure", diagnostics, f"{path}.{name}")


def _check_primitive_extension(
    obj: dict[str, Any],
    key: str,
    value: object,
    rule: ElementRule,
    path: str,
    issues: list[Issue],
    depth: int,
) -> None:
    """``_birthDate``: the id and extensions of a primitive (R4 2.6.2.7)."""
    element_rule = ElementRule(key, "Element", is_array=False, model=structure_model().element)
    if not rule.is_array:
        _check_complex(value, element_rule, f"{path}.{key}", issues, depth)
        return
    values = obj.get(key[1:])
    if type(value) is not list or not value:
        _report(issues, "structure", f"{path}.{key} must be a non-empty array", f"{path}.{key}")
        return
    if values is not None and (type(values) is not list or len(values) != len(value)):
        diagnostics = f"{path}.{key} must be as long as {path}.{key[1:]}"
        _report(issues, "structure", diagnostics, f"{path}.{key}")
        return
    for index, item in enumerate(value):
        if item is None and values is not None and values[index] is not None:
            continue  # this value simply has no extension
        _check_complex(item, element_rule, f"{path}.{key}[{index}]", issues, depth)


def _has_extension_at(obj: dict[str, Any], key: str, index: int) -> bool:
    """A null in a primitive array is only allowed where ``_key`` has an extension."""
    extensions = obj.get(f"_{key}")
    return type(extensions) is list and index < len(extensions) and extensions[index] is not None


def _report_primitive(value: object, rule: ElementRule, path: str, issues: list[Issue]) -> None:
    if value is None:
        _report(issues, "structure", f"{path} must not be null", path)
    elif value == "" and type(value) is str:
        _report(issues, "value", f"{path} must not be an empty string", path)
    elif rule.label == "reference" and type(value) is str:
        if names_unknown_type(value, structure_model().resources):
            _report(issues, "value", f"{path} refers to an unknown resource type", path)
        else:
            _report(issues, "value", f"{path} is not a valid reference", path)
    elif type(value) is dict or type(value) is list:
        _report(issues, "structure", f"{path} must be a JSON {_json_kind(rule.label)}", path)
    else:
        _report(issues, "value", f"{path} is not a valid {rule.label}", path)


def _json_kind(label: str) -> str:
    if label == "boolean":
        return "boolean"
    if label in ("integer", "positiveInt", "unsignedInt", "decimal"):
        return "number"
    return "string"


def _report_code(rule: ElementRule, path: str, issues: list[Issue]) -> None:
    diagnostics = f"{path} is not a code from the required value set {rule.value_set}"
    _report(issues, "code-invalid", diagnostics, path)


def _report_second_choice(rule: ElementRule, path: str, issues: list[Issue]) -> None:
    diagnostics = f"{path}.{rule.choice}[x] must have only one type"
    _report(issues, "structure", diagnostics, f"{path}.{rule.key}")
