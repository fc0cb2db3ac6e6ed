"""The value half of FHIR search syntax: escapes, prefixes and each parameter type's form.

:func:`parse_values` turns one raw parameter value (``a,b\\,c``) into the ORed search values
of :mod:`khealth.fhir.search_model`.  Errors name the parameter and never echo the value:
search values are often identifiers or clinical data (FHIR R4 search §3.1.1.4–3.1.1.6,
http://hl7.org/fhir/R4/search.html).
"""

from __future__ import annotations

import re

from khealth.core.errors import InvalidRequest, Issue
from khealth.fhir.fhirdates import date_range
from khealth.fhir.fhirnumbers import precision_range
from khealth.fhir.index import normalize_string
from khealth.fhir.search_model import (
    CompositeSearch,
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
from khealth.fhir.searchparams import SearchParamDef, definition_by_url

#: Characters a backslash escapes in search values (R4 §3.1.1.6).
_ESCAPABLE = frozenset(",|$\\")
#: FHIR ``id`` datatype.
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
#: ``Type/id``, optionally ``/_history/vid`` (which we reject).
_RELATIVE = re.compile(r"([A-Z][A-Za-z]+)/([^/]+)(/_history/[^/]+)?")
#: A URI scheme: ``http:``, ``urn:``...  Relative references never have one.
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
#: An unencoded ``+`` before a zone offset arrives as a space after form decoding.
_ZONE_AS_SPACE = re.compile(r"(T[0-9:.]+) ([0-9]{2}:[0-9]{2})$")
_MAX_LABEL = 80
#: What an embedded name (a type, modifier or parameter code) must look like to be echoed.
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]{0,63}")


def shorten(text: str) -> str:
    """A parameter name fit for diagnostics: names are ours, but the client chose them."""
    return text if len(text) <= _MAX_LABEL else text[: _MAX_LABEL - 1] + "…"


def name_of(text: str) -> str:
    """A client-chosen name for a message, withheld unless it looks like a FHIR name."""
    return text if _NAME.fullmatch(text) else "(withheld)"


def search_error(label: str, message: str, code: str = "invalid") -> InvalidRequest:
    """A 400 naming the parameter; ``message`` must not contain the user's value."""
    return InvalidRequest([Issue(code, f"Search parameter '{shorten(label)}': {message}")])


def split_escaped(text: str, separator: str) -> list[str]:
    """Split on unescaped ``separator``, keeping escapes for the next level to see."""
    if "\\" not in text:  # the common case, without the character loop
        return text.split(separator)
    parts: list[str] = []
    current: list[str] = []
    chars = iter(text)
    for char in chars:
        if char == "\\":
            following = next(chars, "")
            current.append(char + following)
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def escape(text: str) -> str:
    """A value as a search parameter holds it: ``\\ , | $`` escaped (the inverse of
    ``unescape``; http://hl7.org/fhir/R4/search.html#escaping)."""
    for char in ("\\", ",", "|", "$"):
        text = text.replace(char, "\\" + char)
    return text


def unescape(text: str) -> str:
    """Drop the backslash of ``\\,`` ``\\|`` ``\\$`` ``\\\\``; other backslashes stay."""
    if "\\" not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in _ESCAPABLE:
            out.append(text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def is_id(text: str) -> bool:
    return _ID.fullmatch(text) is not None


def parse_values(
    definition: SearchParamDef, modifier: str | None, raw: str, label: str
) -> tuple[SearchValue | CompositeSearch, ...]:
    """The ORed values of one parameter occurrence; empty alternatives are skipped.

    ``modifier`` is an already-validated modifier; for references a resource type
    (``subject:Patient``) is passed as the modifier and becomes the target type.
    """
    values: list[SearchValue | CompositeSearch] = []
    for part in split_escaped(raw, ","):
        if part == "":
            continue
        if definition.type == "composite":
            values.append(_composite(definition, part, label))
        else:
            values.append(parse_simple(definition, modifier, part, label))
    return tuple(values)


def parse_simple(
    definition: SearchParamDef, modifier: str | None, text: str, label: str
) -> SearchValue:
    """One value (escapes still in place) of a non-composite parameter."""
    kind = definition.type
    if kind == "token":
        if modifier == "text":  # matched against normalised display text
            return TokenSearch(None, normalize_string(unescape(text)))
        if definition.code == "_id":
            return _plain_id(text, label)
        return parse_token(text, label)
    if kind == "string":
        raw = unescape(text)
        return StringSearch(normalize_string(raw), raw)
    if kind == "date":
        return _date(text, label)
    if kind == "number":
        prefix, rest = _prefix(text, label)
        number, low, high = _number(rest, label)
        return NumberSearch(prefix, number, low, high)
    if kind == "quantity":
        return _quantity(text, label)
    if kind == "uri":
        return UriSearch(unescape(text))
    if kind == "reference":
        if modifier == "identifier":
            return parse_token(text, label)
        return _reference(definition, modifier, text, label)
    raise search_error(label, f"{kind} parameters are not supported", "not-supported")


def parse_token(text: str, label: str) -> TokenSearch:
    """``code`` (any system), ``|code`` (no system), ``system|`` (any code), ``system|code``."""
    parts = split_escaped(text, "|")
    if len(parts) == 1:
        return TokenSearch(None, unescape(parts[0]))
    if len(parts) > 2:
        raise search_error(label, "a token is [system]|[code] with one unescaped '|'")
    system, code = unescape(parts[0]), unescape(parts[1])
    if system == "" and code == "":
        raise search_error(label, "a token needs a system or a code")
    return TokenSearch(system, code or None)


def _plain_id(text: str, label: str) -> TokenSearch:
    value = unescape(text)
    if not is_id(value):
        raise search_error(label, "not a valid resource id")
    return TokenSearch(None, value)


def _prefix(text: str, label: str) -> tuple[Prefix, str]:
    """Split ``ge2020`` into (ge, 2020); a value without letters in front means eq."""
    head = text[:2]
    if len(head) == 2 and head.isascii() and head.isalpha():
        try:
            return Prefix(head), text[2:]
        except ValueError:
            raise search_error(label, "unknown prefix (use eq ne gt lt ge le sa eb ap)") from None
    return Prefix.EQ, text


def _date(text: str, label: str) -> DateSearch:
    prefix, rest = _prefix(text, label)
    rest = _ZONE_AS_SPACE.sub(r"\1+\2", rest)
    try:
        low, high = date_range(rest)
    except ValueError:  # its message quotes the value; ours must not
        raise search_error(label, "not a valid FHIR date, dateTime or instant") from None
    return DateSearch(prefix, low, high)


def _number(text: str, label: str) -> tuple[float, float, float]:
    try:
        return precision_range(text)
    except (ValueError, ArithmeticError):
        raise search_error(label, "not a valid number") from None


def _quantity(text: str, label: str) -> QuantitySearch:
    """``[prefix]number``, ``[prefix]number|system|code`` or ``[prefix]number||code``."""
    prefix, rest = _prefix(text, label)
    parts = split_escaped(rest, "|")
    if len(parts) not in (1, 3):
        raise search_error(label, "a quantity is [prefix]number[|system|code]")
    number, low, high = _number(unescape(parts[0]), label)
    if len(parts) == 1:
        return QuantitySearch(prefix, number, low, high, None, None)
    system, code = unescape(parts[1]) or None, unescape(parts[2]) or None
    return QuantitySearch(prefix, number, low, high, system, code)


def _reference(
    definition: SearchParamDef, type_modifier: str | None, text: str, label: str
) -> ReferenceSearch:
    """``Type/id``, ``id`` or an absolute (or canonical, ``url|version``) reference."""
    value = unescape(text)
    if _SCHEME.match(value):
        return ReferenceSearch(None, None, value)
    relative = _RELATIVE.fullmatch(value)
    if relative is None:
        if not is_id(value):
            raise search_error(label, "a reference is Type/id, id or an absolute URL")
        return ReferenceSearch(type_modifier, value)
    target_type, target_id, version = relative.groups()
    if version:
        raise search_error(label, "version-specific references are not searchable", "not-supported")
    if not is_id(target_id):
        raise search_error(label, "not a valid resource id")
    if definition.targets and target_type not in definition.targets:
        raise search_error(label, f"{name_of(target_type)} is not a target type of this parameter")
    if type_modifier is not None and type_modifier != target_type:
        raise search_error(label, "the reference's type differs from the type modifier")
    return ReferenceSearch(target_type, target_id)


def _composite(definition: SearchParamDef, text: str, label: str) -> CompositeSearch:
    """``a$b``: each part typed by its component's own SearchParameter."""
    parts = split_escaped(text, "$")
    if len(parts) != len(definition.components):
        count = len(definition.components)
        raise search_error(label, f"a composite value has {count} parts separated by '$'")
    values: list[SearchValue] = []
    for part, component in zip(parts, definition.components, strict=True):
        component_definition = definition_by_url(component.definition)
        if component_definition is None:
            raise search_error(label, "composite component is not defined", "not-supported")
        values.append(parse_simple(component_definition, None, part, label))
    return CompositeSearch(tuple(values))
