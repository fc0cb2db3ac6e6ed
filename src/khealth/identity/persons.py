"""Person resources: the city-level identity that links facility Patients (``Person.link``).

Pure helpers: the content of a Person, its links, and which Person each cluster of a linkage
run becomes (keeping ids stable from one run to the next so that nothing churns).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

PERSON_PREFIX = "Patient/"


def person_resource(
    person_id: str, links: Mapping[str, str], active: bool = True
) -> dict[str, Any]:
    """A Person with one link per facility Patient (sorted: same links, same content)."""
    body: dict[str, Any] = {"resourceType": "Person", "id": person_id, "active": active}
    if links:
        body["link"] = [
            {"target": {"reference": PERSON_PREFIX + patient}, "assurance": links[patient]}
            for patient in sorted(links)
        ]
    return body


def with_links(body: Mapping[str, Any], links: Mapping[str, str]) -> dict[str, Any]:
    """A stored Person (meta dropped) with its Patient links replaced by ``links``."""
    kept = {k: v for k, v in body.items() if k not in ("meta", "link")}
    return kept | {k: v for k, v in person_resource(str(body["id"]), links).items() if k == "link"}


def patient_links(person: Mapping[str, Any]) -> dict[str, str]:
    """patient id → assurance of a stored Person's links to Patients."""
    links: dict[str, str] = {}
    for link in person.get("link") or ():
        reference = (link.get("target") or {}).get("reference", "")
        if isinstance(reference, str) and reference.startswith(PERSON_PREFIX):
            links[reference.removeprefix(PERSON_PREFIX)] = str(link.get("assurance", "level2"))
    return links


def new_person_id() -> str:
    return uuid.uuid4().hex[:20]


def assign_full(clusters: Iterable[list[str]], current: Mapping[str, str]) -> dict[str, list[str]]:
    """Person id → patients for a full run: each cluster takes the Person most of its
    members are linked to now (each Person once, larger clusters first), else a new one."""
    used: set[str] = set()
    assigned: dict[str, list[str]] = {}
    for cluster in sorted(clusters, key=len, reverse=True):
        votes = Counter(current[p] for p in cluster if p in current)
        chosen = next((pid for pid, _ in votes.most_common() if pid not in used), None)
        person = chosen or new_person_id()
        used.add(person)
        assigned[person] = list(cluster)
    return assigned


def assign_incremental(
    clusters: Iterable[list[str]], current: Mapping[str, str]
) -> dict[str, list[str]]:
    """Person id → patients to add: linked Patients stay where they are; an unlinked one
    joins the Person most of its cluster is linked to, or a new Person with the rest of
    its unlinked cluster."""
    additions: dict[str, list[str]] = {}
    for cluster in clusters:
        unlinked = [p for p in cluster if p not in current]
        if not unlinked:
            continue
        votes = Counter(current[p] for p in cluster if p in current)
        person = votes.most_common(1)[0][0] if votes else new_person_id()
        additions.setdefault(person, []).extend(unlinked)
    return additions
