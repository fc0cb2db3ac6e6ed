"""Search parameter names: modifiers, chains and ``_has``, each turned into a Clause.

FHIR R4 search modifiers (§3.1.1.5), chaining (§3.1.1.4.13) and reverse chaining
(§3.1.1.4.14), http://hl7.org/fhir/R4/search.html.  :func:`parse_clause` is used by
:func:`khealth.fhir.search_parse.parse_search`; values are parsed by
:mod:`khealth.fhir.search_values`.  An unknown or unsupported parameter raises
:class:`UnknownParameter`, which a lenient search drops.
"""

from __future__ import annotations

import functools

from khealth.fhir.definitions import SUPPORTED_TYPES
from khealth.fhir.search_model import Chain, Clause, Criterion, Has
from khealth.fhir.search_values import name_of, parse_values, search_error
from khealth.fhir.searchparams import RESOURCE_COLUMNS, SearchParamDef, search_params

#: The only search parameters of a system-level search (``GET [base]?...``).
SYSTEM_PARAMS = frozenset({"_id", "_lastUpdated", "_tag", "_profile", "_security"})
#: Modifiers each parameter type accepts, besides ``:missing`` (and ``:[Type]`` on references).
MODIFIERS: dict[str, frozenset[str]] = {
    "string": frozenset({"exact", "contains"}),
    "token": frozenset({"not", "text"}),
    "uri": frozenset({"below", "above"}),
    "reference": frozenset({"identifier"}),
}
#: Valid R4 modifiers this server does not implement (terminology or hierarchy services).
UNSUPPORTED_MODIFIERS = frozenset({"in", "not-in", "of-type", "above", "below"})
#: Standard parameters that are not in the registry, or are there without an expression.
UNSUPPORTED_PARAMS = frozenset(
    {"_text", "_content", "_query", "_list", "_filter", "_contained", "_containedType"}
)
#: How deep chains and ``_has`` may nest; each level is a join for the backends.
MAX_DEPTH = 4


class UnknownParameter(Exception):
    """A parameter the server does not know or support: dropped when lenient."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def parse_clause(
    resource_type: str | None, name: str, value: str, label: str, depth: int = 0
) -> Clause | None:
    """One ``name=value`` search parameter; None when the value is empty (ignored)."""
    if depth > MAX_DEPTH:
        raise search_error(label, f"chains nest at most {MAX_DEPTH} levels", "not-supported")
    if name == "_has" or name.startswith("_has:"):
        return _has(resource_type, name, value, label, depth)
    head, dot, tail = name.partition(".")
    if dot:
        return _chain(resource_type, head, tail, value, label, depth)
    code, _, modifier = name.partition(":")
    definition = lookup(resource_type, code, label)
    return criterion(definition, modifier or None, value, label)


def lookup(resource_type: str | None, code: str, label: str) -> SearchParamDef:
    """The searchable parameter ``code`` of a type, or UnknownParameter."""
    definition = _params(resource_type).get(code)
    if definition is None and code not in UNSUPPORTED_PARAMS:
        where = resource_type or "system-level search"
        message = f"unknown search parameter for {where}"
        raise UnknownParameter(search_error(label, message, "not-supported"))
    if definition is None or code in UNSUPPORTED_PARAMS or definition.type == "special":
        raise UnknownParameter(search_error(label, "not supported", "not-supported"))
    if not definition.expression:  # nothing to index it from
        raise UnknownParameter(search_error(label, "not supported", "not-supported"))
    return definition


@functools.cache
def _params(resource_type: str | None) -> dict[str, SearchParamDef]:
    if resource_type is None:
        base = search_params("Resource")
        return {code: d for code, d in base.items() if code in SYSTEM_PARAMS}
    return search_params(resource_type)


def criterion(
    definition: SearchParamDef, modifier: str | None, value: str, label: str
) -> Criterion | None:
    """A Criterion of a known parameter, checking the modifier against its type."""
    code, kind = definition.code, definition.type
    type_modifier = _check_modifier(definition, modifier, label)
    if modifier == "missing":
        if value == "":
            return None
        if value not in ("true", "false"):
            raise search_error(label, ":missing takes true or false")
        return Criterion(code, kind, (), "missing", value == "true")
    values = parse_values(definition, type_modifier or modifier, value, label)
    if not values:
        return None
    return Criterion(code, kind, values, None if type_modifier else modifier)


def _check_modifier(definition: SearchParamDef, modifier: str | None, label: str) -> str | None:
    """Reject modifiers that do not apply; return the resource type of ``:[Type]``."""
    if modifier is None:
        return None
    kind = definition.type
    if kind == "reference" and modifier[:1].isupper():
        if definition.targets and modifier not in definition.targets:
            raise search_error(label, f"{name_of(modifier)} is not a target type of this parameter")
        return modifier
    if definition.code in RESOURCE_COLUMNS:  # every resource has an id and lastUpdated
        if definition.code == "_id" and modifier == "not":
            return None
        raise search_error(label, f":{name_of(modifier)} does not apply to {definition.code}")
    if modifier == "missing" or modifier in MODIFIERS.get(kind, frozenset()):
        return None
    if modifier in UNSUPPORTED_MODIFIERS and kind in ("token", "reference"):
        raise search_error(label, f":{modifier} is not supported", "not-supported")
    known = {m for allowed in MODIFIERS.values() for m in allowed} | UNSUPPORTED_MODIFIERS
    if modifier in known:
        raise search_error(label, f":{modifier} does not apply to a {kind} parameter")
    raise search_error(label, f"unknown modifier :{name_of(modifier)}")


def _chain(
    resource_type: str | None, head: str, tail: str, value: str, label: str, depth: int
) -> Chain | None:
    """``subject:Patient.name=kim``: a criterion on the resource a reference points at."""
    code, _, type_modifier = head.partition(":")
    definition = lookup(resource_type, code, label)
    target = _chain_target(definition, type_modifier or None, label)
    inner = parse_clause(target, tail, value, label, depth + 1)
    if isinstance(inner, Has):
        raise search_error(label, "_has inside a chain is not supported", "not-supported")
    return None if inner is None else Chain(code, target, inner)


def _chain_target(definition: SearchParamDef, type_modifier: str | None, label: str) -> str:
    if definition.type != "reference":
        raise search_error(label, "only reference parameters can be chained")
    if type_modifier is None:
        if len(definition.targets) != 1:
            example = f"{definition.code}:{definition.targets[0]}" if definition.targets else ""
            raise search_error(
                label,
                f"{definition.code} can point at several types; name one ({example}.…)",
            )
        type_modifier = definition.targets[0]
    elif not type_modifier[:1].isupper():
        raise search_error(label, "a chain allows only a resource type modifier")
    elif definition.targets and type_modifier not in definition.targets:
        raise search_error(label, f"{name_of(type_modifier)} is not a target of {definition.code}")
    if type_modifier not in SUPPORTED_TYPES:
        raise search_error(label, f"{type_modifier} is not searchable", "not-supported")
    return type_modifier


def _has(resource_type: str | None, name: str, value: str, label: str, depth: int) -> Has | None:
    """``_has:Observation:patient:code=1234``: resources some Observation points at."""
    parts = name.split(":", 3)
    if len(parts) != 4 or not all(parts[1:]):
        raise search_error(label, "_has is _has:Type:reference-parameter:parameter")
    _, source_type, reference_param, rest = parts
    if resource_type is None:
        message = "_has needs a resource type"
        raise UnknownParameter(search_error(label, message, "not-supported"))
    if source_type not in SUPPORTED_TYPES:
        raise search_error(label, f"{name_of(source_type)} is not searchable", "not-supported")
    definition = lookup(source_type, reference_param, label)
    if definition.type != "reference":
        raise search_error(label, f"{reference_param} is not a reference parameter")
    if definition.targets and resource_type not in definition.targets:
        raise search_error(label, f"{reference_param} never points at {resource_type}")
    inner = parse_clause(source_type, rest, value, label, depth + 1)
    return None if inner is None else Has(source_type, reference_param, inner)
