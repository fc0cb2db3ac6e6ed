"""Resident registration numbers leave every resource before it is validated or stored.

The record service calls :func:`protect_identifiers` on each version it prepares (FHIR
create/update/transaction, bulk import, HL7 v2 mappings all pass there), so the plain number
never reaches the resource table, history, search index or a log line.  An identifier is a
resident number when its system says so, or when a Patient-like resource carries a
``YYMMDD-NNNNNNN``-shaped value under another system (a facility that put it in the wrong
slot still must not have it stored).  It is replaced by the keyed token of
:mod:`khealth.access.rrn` under ``urn:khealth:rrn-token``: the same number always gives the
same token, which is what the master patient index links on.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

from khealth.access.rrn import RRN_TOKEN_SYSTEM, load_or_create_rrn_key, tokenise_rrn
from khealth.core.config import get_settings

#: Identifier.system values that name a resident registration number
RRN_SYSTEMS = frozenset(
    {
        "https://khealth.example.org/fhir/sid/kr-rrn",  # the synthetic city's system
        "urn:oid:1.2.410.100110.10.41.1",  # an OID used by some Korean EMRs for 주민등록번호
        "http://www.hl7korea.or.kr/Identifier/rrn",
        "https://www.hl7korea.or.kr/fhir/krcore/NamingSystem/krcore-rrn",
    }
)
#: types whose identifiers name a person (an RRN-shaped value there is taken as one)
PERSON_TYPES = frozenset({"Patient", "Person", "RelatedPerson", "Practitioner"})
_RRN_SHAPE = re.compile(r"\s*\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])-?\d{7}\s*")

_lock = threading.Lock()
_keys: dict[Path, bytes] = {}


def rrn_key(data_dir: Path | None = None) -> bytes:
    """The HMAC key of this installation (``KHEALTH_DATA_DIR/rrn-hmac.key``), read once."""
    directory = (data_dir or get_settings().data_dir).resolve()
    with _lock:
        key = _keys.get(directory)
        if key is None:
            key = _keys[directory] = load_or_create_rrn_key(directory)
        return key


def is_rrn_identifier(resource_type: str, identifier: Any) -> bool:
    if not isinstance(identifier, dict):
        return False
    system, value = identifier.get("system"), identifier.get("value")
    if not isinstance(value, str) or system == RRN_TOKEN_SYSTEM:
        return False
    if system in RRN_SYSTEMS:
        return True
    return resource_type in PERSON_TYPES and _RRN_SHAPE.fullmatch(value) is not None


def protect_identifiers(resource_type: str, resource: Any, key: bytes | None = None) -> Any:
    """The resource with every resident-number identifier replaced by its token (a new
    dict when anything changed; the caller's object is never modified)."""
    if not isinstance(resource, dict):
        return resource
    identifiers = resource.get("identifier")
    if not isinstance(identifiers, list) or not any(
        is_rrn_identifier(resource_type, i) for i in identifiers
    ):
        return resource
    secret = key or rrn_key()
    replaced = [
        _tokenised(i, secret) if is_rrn_identifier(resource_type, i) else i for i in identifiers
    ]
    return {**resource, "identifier": replaced}


def _tokenised(identifier: dict[str, Any], key: bytes) -> dict[str, Any]:
    token = tokenise_rrn(identifier["value"], key)
    kept = {k: v for k, v in identifier.items() if k not in ("system", "value", "extension")}
    return {**kept, "system": RRN_TOKEN_SYSTEM, "value": token}


def rrn_token_of(resource: dict[str, Any]) -> str | None:
    """The resident-number token a stored Patient carries, if any."""
    for identifier in resource.get("identifier") or ():
        if isinstance(identifier, dict) and identifier.get("system") == RRN_TOKEN_SYSTEM:
            value = identifier.get("value")
            return value if isinstance(value, str) else None
    return None
