"""SMART App Launch 2.x resource scopes (``patient/Observation.rs``), with v1 forms.

See https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from khealth.core.errors import Issue, Unauthorized

_SCOPE = re.compile(r"^(patient|user|system)/(\*|[A-Z][A-Za-z]+)\.(\*|read|write|[cruds]+)(\?.*)?$")
_V1 = {"read": "rs", "write": "cud", "*": "cruds"}
_ORDER = "cruds"


@dataclass(frozen=True, slots=True)
class Scope:
    context: str  # patient | user | system
    resource_type: str  # a type or "*"
    interactions: str  # subset of "cruds", in that order

    def allows(self, resource_type: str, interaction: str) -> bool:
        return self.resource_type in ("*", resource_type) and interaction in self.interactions

    def __str__(self) -> str:
        return f"{self.context}/{self.resource_type}.{self.interactions}"


def parse_scope(text: str) -> Scope | None:
    """One resource scope, or None for a non-resource scope (openid, launch/patient...).

    Raises Unauthorized for a malformed resource scope such as ``patient/Obs.xyz``
    (v2 requires the letters in c r u d s order).
    """
    if "/" not in text or text.startswith("launch"):
        return None
    m = _SCOPE.match(text)
    if m is None:
        raise Unauthorized([Issue("security", "malformed scope in token")])
    context, resource_type, perms, _query = m.groups()
    letters = _V1.get(perms, perms)
    if "".join(c for c in _ORDER if c in letters) != letters:
        raise Unauthorized([Issue("security", "scope permissions must be in c, r, u, d, s order")])
    return Scope(context, resource_type, letters)


def parse_scopes(text: str) -> tuple[Scope, ...]:
    found = (parse_scope(part) for part in text.split())
    return tuple(s for s in found if s is not None)
