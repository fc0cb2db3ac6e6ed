"""Checks for the R4 primitive types (FHIR R4 2.24.0.1 "Primitive Types", JSON form 2.6.2).

The lexical rules are the ``regex`` extensions of the primitive StructureDefinitions in
``profiles-types.json``, compiled with ``re.ASCII``: they were written for Java, where
``\\s`` means ASCII whitespace only.  With Python's Unicode ``\\s`` an ideographic space
in Korean text would make a perfectly good ``string`` invalid.

Some types are checked by hand instead of by their regex, each for a reason:

* boolean, the integers and decimal are JSON booleans and numbers, not strings;
* string and markdown: the regex only forbids empty strings and two control characters,
  and the hand check avoids a regex pass over every (possibly long) narrative string;
* base64Binary: the official regex ``(\\s*([0-9a-zA-Z\\+/=]){4}\\s*)+`` backtracks
  exponentially on a long invalid value that contains line breaks;
* xhtml has no regex; we only check the ``<div>`` envelope, not the XHTML content.
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

Check = Callable[[object], bool]

_REGEX_EXTENSION = "http://hl7.org/fhir/StructureDefinition/regex"
_INT32_MIN = -(2**31)
_INT32_MAX = 2**31 - 1
_BASE64 = re.compile(r"[A-Za-z0-9+/=]+", re.ASCII)
_ASCII_WHITESPACE = re.compile(r"\s+", re.ASCII)


def primitive_regexes(types_bundle: Mapping[str, Any]) -> dict[str, str]:
    """The ``regex`` extension of each primitive type's ``value`` element."""
    regexes: dict[str, str] = {}
    for entry in types_bundle["entry"]:
        definition = entry["resource"]
        if definition.get("kind") != "primitive-type":
            continue
        for element in definition["snapshot"]["element"]:
            if element["path"] != f"{definition['id']}.value":
                continue
            for type_ in element.get("type", ()):
                for extension in type_.get("extension", ()):
                    if extension["url"] == _REGEX_EXTENSION:
                        regexes[definition["id"]] = extension["valueString"]
    return regexes


def primitive_checks(regexes: Mapping[str, str]) -> dict[str, Check]:
    """One check per primitive type code: ``check(json_value) -> bool``."""
    checks: dict[str, Check] = {
        "boolean": _is_boolean,
        "integer": _is_integer,
        "positiveInt": _is_positive_int,
        "unsignedInt": _is_unsigned_int,
        "decimal": _is_decimal,
        "string": is_string,
        "markdown": is_string,
        "base64Binary": _is_base64_binary,
        "xhtml": _is_xhtml,
    }
    for name in ("id", "code", "uri", "url", "canonical", "oid", "uuid", "time"):
        checks[name] = _regex_check(regexes[name])
    for name in ("date", "dateTime", "instant"):
        checks[name] = _date_check(regexes[name])
    return checks


def is_string(value: object) -> bool:
    # `[ \r\n\t\S]+` under ASCII rules: non-empty, and no vertical tab or form feed.
    return type(value) is str and value != "" and "\x0b" not in value and "\x0c" not in value


def _is_boolean(value: object) -> bool:
    return type(value) is bool


def _is_integer(value: object) -> bool:
    # `type(...) is int` on purpose: JSON true is not the integer 1.
    return type(value) is int and _INT32_MIN <= value <= _INT32_MAX


def _is_positive_int(value: object) -> bool:
    return type(value) is int and 1 <= value <= _INT32_MAX


def _is_unsigned_int(value: object) -> bool:
    return type(value) is int and 0 <= value <= _INT32_MAX


def _is_decimal(value: object) -> bool:
    kind = type(value)
    if kind is int:
        return True
    return kind is float and math.isfinite(value)  # type: ignore[arg-type]


def _is_base64_binary(value: object) -> bool:
    if type(value) is not str or not value:
        return False
    if _BASE64.fullmatch(value) is None:
        value = _ASCII_WHITESPACE.sub("", value)  # whitespace is allowed between groups
        if _BASE64.fullmatch(value) is None:
            return False
    return len(value) % 4 == 0


def _is_xhtml(value: object) -> bool:
    if type(value) is not str:
        return False
    text = value.strip()
    return text.startswith("<div") and text.endswith("</div>")


def _regex_check(regex: str) -> Check:
    fullmatch = re.compile(regex, re.ASCII).fullmatch

    def check(value: object) -> bool:
        return type(value) is str and fullmatch(value) is not None

    return check


def _date_check(regex: str) -> Check:
    """The regex, plus the calendar: the regex alone accepts 2023-02-31."""
    fullmatch = re.compile(regex, re.ASCII).fullmatch

    def check(value: object) -> bool:
        if type(value) is not str or fullmatch(value) is None:
            return False
        # Days up to 28 exist in every month; only look at the calendar beyond that.
        return len(value) < 10 or value[8:10] <= "28" or _day_exists(value)

    return check


def _day_exists(value: str) -> bool:
    year, month, day = int(value[0:4]), int(value[5:7]), int(value[8:10])
    return day <= calendar.monthrange(year, month)[1]
