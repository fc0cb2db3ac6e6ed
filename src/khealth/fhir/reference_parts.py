"""Reading a Reference.reference string into target type, id and URL (R4 2.3.0, "Reference").

* ``Patient/123`` and ``Patient/123/_history/2`` are local: type ``Patient``, id ``123``;
* ``https://other.example/fhir/Patient/123`` is absolute: kept whole as the URL, and the
  type and id it ends in are read too (for ``:Patient`` and ``resolve() is Patient``);
* ``urn:uuid:...`` and other URLs that name no ``Type/id`` keep only the URL;
* ``#contained`` and conditional references (``Patient?identifier=...``) are not targets
  that a stored resource can point at, so they yield nothing.
"""

from __future__ import annotations

import functools
import re
from typing import Any, NamedTuple

_ID = r"[A-Za-z0-9\-.]{1,64}"
_LOCAL = re.compile(rf"([A-Z][A-Za-z]*)/({_ID})(?:/_history/{_ID})?", re.ASCII)
_URL_TAIL = re.compile(rf"/([A-Z][A-Za-z]*)/({_ID})(?:/_history/{_ID})?$", re.ASCII)


class ReferenceParts(NamedTuple):
    target_type: str | None
    target_id: str | None
    url: str | None  # absolute or canonical reference, kept whole


@functools.lru_cache(maxsize=65_536)
def parse_reference_string(text: str) -> ReferenceParts | None:
    """The parts of a reference string, or None when it names nothing indexable."""
    if not text or text.startswith("#") or "?" in text:
        return None
    local = _LOCAL.fullmatch(text)
    if local is not None:
        return ReferenceParts(local[1], local[2], None)
    # A canonical may carry "|version"; the type and id come before it.
    tail = _URL_TAIL.search(text.split("|", 1)[0])
    if tail is not None:
        return ReferenceParts(tail[1], tail[2], text)
    return ReferenceParts(None, None, text)


def parse_reference_type(reference: dict[str, Any]) -> str | None:
    """The resource type a Reference points at (``resolve() is X`` without resolving).

    Falls back to Reference.type when the string names no type (identifier-only
    references and ``urn:uuid:`` ones that declare their type).
    """
    text = reference.get("reference")
    if type(text) is str:
        parts = parse_reference_string(text)
        if parts is not None and parts.target_type is not None:
            return parts.target_type
    declared = reference.get("type")
    return declared if type(declared) is str else None
