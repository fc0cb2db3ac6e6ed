"""Index rows from one FHIR element, by search type and datatype (R4 search 3.1.1.5).

:func:`converter` picks, once per compiled branch, the function that turns an element of
a known datatype into rows for a parameter of a known search type; combinations the spec
does not define (a Reference for a date parameter...) get none and index nothing.

Values that do not parse (a malformed date, a string where a number belongs) are skipped
rather than raised: the validator is the gate for bad data, and the import must not
stop on a row it would not have indexed anyway.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

from khealth.fhir.fhirdates import OPEN_HIGH, OPEN_LOW, date_range
from khealth.fhir.fhirnumbers import precision_range
from khealth.fhir.index import (
    DateValue,
    NumberValue,
    QuantityValue,
    ReferenceValue,
    StringValue,
    TokenValue,
    UriValue,
    normalize_string,
)
from khealth.fhir.reference_parts import parse_reference_string

Converter = Callable[[str, Any, list[Any]], None]

#: Money is indexed as a quantity in ISO 4217 currency units (R4 search 3.1.1.5.8).
CURRENCY_SYSTEM = "urn:iso:std:iso:4217"

# Most texts (code displays, city names) repeat across a bundle: normalise each once.
_normalized = functools.lru_cache(maxsize=65_536)(normalize_string)

_PRIMITIVE_STRINGS = frozenset(
    {"string", "markdown", "code", "id", "uri", "url", "canonical", "oid", "uuid"}
)
_URIS = frozenset({"uri", "url", "canonical", "oid", "uuid"})
_DATES = frozenset({"date", "dateTime", "instant"})
_NUMBERS = frozenset({"decimal", "integer", "positiveInt", "unsignedInt"})
_QUANTITIES = frozenset({"Quantity", "Age", "Duration", "Distance", "Count", "SimpleQuantity"})


def _text(value: Any) -> str | None:
    return value if type(value) is str and value else None


def _norm(value: Any) -> str | None:
    text = _text(value)
    return _normalized(text) if text is not None else None


# --- token -------------------------------------------------------------------------------


def token_primitive(param: str, value: Any, out: list[Any]) -> None:
    """code, string, id, uri...: the value is the code, with no system."""
    if type(value) is str and value:
        out.append(TokenValue(param, None, value))


def token_boolean(param: str, value: Any, out: list[Any]) -> None:
    if type(value) is bool:
        out.append(TokenValue(param, None, "true" if value else "false"))


def token_coding(param: str, coding: Any, out: list[Any]) -> None:
    if type(coding) is not dict:
        return
    # Inlined rather than via _text/_norm: this runs for nearly every coded element.
    system, code, display = coding.get("system"), coding.get("code"), coding.get("display")
    system = system if type(system) is str and system else None
    code = code if type(code) is str and code else None
    display = _normalized(display) if type(display) is str and display else None
    if system or code or display:
        out.append(TokenValue(param, system, code, display))


def token_codeable_concept(param: str, concept: Any, out: list[Any]) -> None:
    """Each coding (with its display as text), plus CodeableConcept.text when it adds words.

    The text row has no system or code, so it only ever matches ``:text`` searches.
    """
    if type(concept) is not dict:
        return
    codings = concept.get("coding")
    start = len(out)
    if type(codings) is list:
        for coding in codings:
            token_coding(param, coding, out)
    text = _norm(concept.get("text"))
    if text is not None and all(row.text != text for row in out[start:]):
        out.append(TokenValue(param, None, None, text))


def token_identifier(param: str, identifier: Any, out: list[Any]) -> None:
    """system|value, with Identifier.type's text (or first display) for ``:text``."""
    if type(identifier) is not dict:
        return
    system, value = _text(identifier.get("system")), _text(identifier.get("value"))
    if system is None and value is None:
        return
    out.append(TokenValue(param, system, value, _identifier_type_text(identifier.get("type"))))


def _identifier_type_text(concept: Any) -> str | None:
    if type(concept) is not dict:
        return None
    text = _norm(concept.get("text"))
    codings = concept.get("coding")
    if text is None and type(codings) is list and codings and type(codings[0]) is dict:
        text = _norm(codings[0].get("display"))
    return text


def token_contact_point(param: str, contact: Any, out: list[Any]) -> None:
    """R4 indexes ContactPoint.value only (email, phone and telecom have no system part)."""
    if type(contact) is dict:
        token_primitive(param, contact.get("value"), out)


# --- string ------------------------------------------------------------------------------


def string_primitive(param: str, value: Any, out: list[Any]) -> None:
    if type(value) is str and value:
        out.append(StringValue(param, _normalized(value), value))


def _string_parts(fields: tuple[str, ...]) -> Converter:
    def convert(param: str, element: Any, out: list[Any]) -> None:
        if type(element) is not dict:
            return
        for name in fields:
            value = element.get(name)
            if type(value) is list:
                for part in value:
                    string_primitive(param, part, out)
            else:
                string_primitive(param, value, out)

    return convert


#: One StringValue per part, so ``name=kim`` matches a family name, given name or text.
string_human_name = _string_parts(("family", "given", "prefix", "suffix", "text"))
string_address = _string_parts(
    ("line", "city", "district", "state", "postalCode", "country", "text")
)


# --- date --------------------------------------------------------------------------------


def date_primitive(param: str, value: Any, out: list[Any]) -> None:
    if type(value) is str:
        try:
            low, high = date_range(value)
        except ValueError:
            return
        out.append(DateValue(param, low, high))


def date_period(param: str, period: Any, out: list[Any]) -> None:
    """start's low to end's high; a missing end is ongoing (OPEN_HIGH), a missing start OPEN_LOW."""
    if type(period) is not dict:
        return
    start, end = period.get("start"), period.get("end")
    if start is None and end is None:
        return
    try:
        low = date_range(start)[0] if start is not None else OPEN_LOW
        high = date_range(end)[1] if end is not None else OPEN_HIGH
    except (ValueError, TypeError):
        return
    out.append(DateValue(param, low, high))


def date_timing(param: str, timing: Any, out: list[Any]) -> None:
    """Timing.event: each listed time (a repeat rule alone has no searchable date)."""
    if type(timing) is dict and type(timing.get("event")) is list:
        for event in timing["event"]:
            date_primitive(param, event, out)


# --- number and quantity -----------------------------------------------------------------


def _number_range(value: Any) -> tuple[float, float, float] | None:
    if type(value) not in (int, float):
        return None
    try:
        return precision_range(value)
    except ValueError:
        return None


def number(param: str, value: Any, out: list[Any]) -> None:
    found = _number_range(value)
    if found is not None:
        out.append(NumberValue(param, *found))


def quantity(param: str, element: Any, out: list[Any]) -> None:
    if type(element) is not dict:
        return
    found = _number_range(element.get("value"))
    if found is not None:
        system, code, unit = (_text(element.get(k)) for k in ("system", "code", "unit"))
        out.append(QuantityValue(param, *found, system, code, unit))


def money(param: str, element: Any, out: list[Any]) -> None:
    if type(element) is not dict:
        return
    found = _number_range(element.get("value"))
    if found is not None:
        currency = _text(element.get("currency"))
        out.append(QuantityValue(param, *found, CURRENCY_SYSTEM, currency, currency))


def quantity_range(param: str, element: Any, out: list[Any]) -> None:
    """A Range as one row: low from Range.low's precision, high from Range.high's.

    ``value`` is NaN, which is how the matcher tells a Range from a single quantity; a
    missing end is open (-inf / +inf).  Units come from low, else high.
    """
    if type(element) is not dict:
        return
    low_part, high_part = element.get("low"), element.get("high")
    low = _number_range(low_part.get("value")) if type(low_part) is dict else None
    high = _number_range(high_part.get("value")) if type(high_part) is dict else None
    if low is None and high is None:
        return
    units = low_part if low is not None else high_part
    assert type(units) is dict
    system, code, unit = (_text(units.get(k)) for k in ("system", "code", "unit"))
    out.append(
        QuantityValue(
            param,
            math.nan,
            low[1] if low is not None else -math.inf,
            high[2] if high is not None else math.inf,
            system,
            code,
            unit,
        )
    )


# --- reference and uri -------------------------------------------------------------------


def reference(param: str, element: Any, out: list[Any]) -> None:
    """Reference.reference as type/id (or URL), and Reference.identifier for ``:identifier``."""
    if type(element) is not dict:
        return
    text = element.get("reference")
    parts = parse_reference_string(text) if type(text) is str else None
    identifier = element.get("identifier")
    system = value = None
    if type(identifier) is dict:
        system, value = _text(identifier.get("system")), _text(identifier.get("value"))
    if parts is None and system is None and value is None:
        return
    if parts is None:  # identifier only: the declared type is all we know of the target
        declared = _text(element.get("type"))
        out.append(ReferenceValue(param, declared, None, None, system, value))
        return
    out.append(ReferenceValue(param, parts.target_type, parts.target_id, parts.url, system, value))


def reference_canonical(param: str, value: Any, out: list[Any]) -> None:
    """A canonical or uri used as a reference: the URL, and the type/id it ends in."""
    if type(value) is str and value:
        parts = parse_reference_string(value)
        if parts is not None:
            out.append(ReferenceValue(param, parts.target_type, parts.target_id, value))


def uri(param: str, value: Any, out: list[Any]) -> None:
    if type(value) is str and value:
        out.append(UriValue(param, value))


# --- choosing ----------------------------------------------------------------------------


def converter(search_type: str, datatype: str) -> Converter | None:
    """How an element of ``datatype`` becomes rows of a ``search_type`` parameter, if at all."""
    if search_type == "token":
        return _token_converter(datatype)
    if search_type == "string":
        if datatype in _PRIMITIVE_STRINGS:
            return string_primitive
        return {"HumanName": string_human_name, "Address": string_address}.get(datatype)
    if search_type == "date":
        if datatype in _DATES:
            return date_primitive
        return {"Period": date_period, "Timing": date_timing}.get(datatype)
    if search_type == "number":
        return number if datatype in _NUMBERS else None
    if search_type == "quantity":
        if datatype in _QUANTITIES:
            return quantity
        return {"Money": money, "Range": quantity_range}.get(datatype)
    if search_type == "reference":
        if datatype == "Reference":
            return reference
        return reference_canonical if datatype in _URIS else None
    if search_type == "uri":
        return uri if datatype in _URIS else None
    return None


def _token_converter(datatype: str) -> Converter | None:
    if datatype in _PRIMITIVE_STRINGS:
        return token_primitive
    return {
        "boolean": token_boolean,
        "Coding": token_coding,
        "CodeableConcept": token_codeable_concept,
        "Identifier": token_identifier,
        "ContactPoint": token_contact_point,
    }.get(datatype)


#: The search type an element's datatype naturally has, for composite components whose
#: definition's type does not fit the element (R4's DocumentReference-relationship lists
#: its two components with each other's definitions).
NATURAL_SEARCH_TYPE = {
    "Reference": "reference",
    "code": "token",
    "Coding": "token",
    "CodeableConcept": "token",
    "Identifier": "token",
    "Quantity": "quantity",
    "dateTime": "date",
    "Period": "date",
    "string": "string",
}
