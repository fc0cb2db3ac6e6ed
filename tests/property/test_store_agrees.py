"""The SQL repositories agree with the in-memory reference on random data and searches.

Hypothesis makes small sets of Patients and Observations (genders, birth dates of every
precision, Hangul and accented Latin names, identifiers, quantities, references between
them) and random searches (token, string with modifiers, date with every prefix,
quantity with prefixes, reference, chains, ``_has``, ``:missing``, ``_sort``), runs
each search on the memory store, SQLite and PostgreSQL (when reachable) and demands the
same ids: in order when the search sorts, as a set otherwise.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from khealth.core.errors import KhealthError
from khealth.fhir.search_parse import parse_search
from khealth.records.ports import ResourceStore
from khealth.records.service import Records
from khealth.store.factory import open_store
from khealth.store.memory import MemoryStore
from khealth.store.sql import SqlStore
from tests.postgres import PostgresUnavailable, empty_tables, private_database
from tests.support import FrozenClock, system_context

pytestmark = pytest.mark.property

SYSTEMS = ["urn:oid:1.2.410.100.1", "http://khealth.example/mrn"]
FAMILIES = ["김", "이", "박", "남궁", "Müller", "Muller", "muñoz", "Ångström", "O'Neil", "lee",
            "LEE", "Lee-Kim", "Leeb", "O-Neil"]  # fmt: skip
GIVENS = ["민지", "준호", "Zoë", "Zoe", "José", "ann", "Anne", "a b"]
LOINC = "http://loinc.org"
CODES = ["2345-7", "29463-7", "8480-6"]
UCUM = "http://unitsofmeasure.org"
UNITS = ["mg/dL", "mmol/L", "kg"]
STATUSES = ["final", "preliminary", "amended"]
PREFIXES = ["", "eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"]
N_PATIENTS = 5


# -- data ------------------------------------------------------------------------------------

years = st.integers(1989, 1992)
months = st.integers(1, 12)
days = st.integers(1, 28)


@st.composite
def fhir_dates(draw: st.DrawFn, times: bool = False) -> str:
    """A date of year, month or day precision, or (``times``) a dateTime with a zone."""
    year, month, day = draw(years), draw(months), draw(days)
    precision = draw(st.sampled_from(["y", "m", "d", "t"] if times else ["y", "m", "d"]))
    if precision == "y":
        return f"{year}"
    if precision == "m":
        return f"{year}-{month:02d}"
    if precision == "d":
        return f"{year}-{month:02d}-{day:02d}"
    hour = draw(st.integers(0, 23))
    zone = draw(st.sampled_from(["Z", "+09:00", "-05:00"]))
    return f"{year}-{month:02d}-{day:02d}T{hour:02d}:30:00{zone}"


@st.composite
def patients(draw: st.DrawFn, number: int) -> dict[str, Any]:
    body: dict[str, Any] = {"resourceType": "Patient", "id": f"p{number}"}
    gender = draw(st.sampled_from(["male", "female", "other", "unknown", None]))
    if gender:
        body["gender"] = gender
    if draw(st.booleans()):
        body["birthDate"] = draw(fhir_dates())
    names = draw(
        st.lists(st.tuples(st.sampled_from(FAMILIES), st.sampled_from(GIVENS)), max_size=2)
    )
    if names:
        body["name"] = [{"family": f, "given": [g]} for f, g in names]
    identifiers = draw(
        st.lists(st.tuples(st.sampled_from([*SYSTEMS, None]), st.sampled_from(["A1", "B2", "C3"])),
                 max_size=2)
    )  # fmt: skip
    if identifiers:
        body["identifier"] = [{"value": v} | ({"system": s} if s else {}) for s, v in identifiers]
    if draw(st.booleans()):
        body["active"] = draw(st.booleans())
    if number > 0 and draw(st.booleans()):
        other = draw(st.integers(0, number - 1))
        body["link"] = [{"other": {"reference": f"Patient/p{other}"}, "type": "seealso"}]
    return body


quantity_values = st.sampled_from([0, 1, 1.5, 5.4, 5.45, 72, 99, 99.5, 100, 100.0, 126.5, 1e3])


@st.composite
def observations(draw: st.DrawFn, number: int) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"o{number}",
        "status": draw(st.sampled_from(STATUSES)),
        "code": {"coding": [{"system": LOINC, "code": draw(st.sampled_from(CODES))}],
                 "text": draw(st.sampled_from(["Glucose", "체중", "Blood pressure"]))},
    }  # fmt: skip
    if draw(st.booleans()):
        body["subject"] = {"reference": f"Patient/p{draw(st.integers(0, N_PATIENTS - 1))}"}
    if draw(st.booleans()):
        body["effectiveDateTime"] = draw(fhir_dates(times=True))
    kind = draw(st.sampled_from(["ucum", "unit-only", "none"]))
    if kind != "none":
        unit = draw(st.sampled_from(UNITS))
        quantity: dict[str, Any] = {"value": draw(quantity_values), "unit": unit}
        if kind == "ucum":
            quantity |= {"system": UCUM, "code": unit}
        body["valueQuantity"] = quantity
    if number > 0 and draw(st.booleans()):
        body["hasMember"] = [{"reference": f"Observation/o{draw(st.integers(0, number - 1))}"}]
    return body


@st.composite
def datasets(draw: st.DrawFn) -> list[dict[str, Any]]:
    people = [draw(patients(i)) for i in range(N_PATIENTS)]
    count = draw(st.integers(0, 8))
    return people + [draw(observations(i)) for i in range(count)]


# -- searches --------------------------------------------------------------------------------


def _name_fragment(draw: st.DrawFn) -> str:
    word = draw(st.sampled_from(FAMILIES + GIVENS))
    cut = draw(st.integers(1, len(word)))
    fragment = word[:cut]
    return draw(st.sampled_from([fragment, fragment.upper(), fragment.lower()]))


def _quantity(draw: st.DrawFn) -> str:
    prefix = draw(st.sampled_from(PREFIXES))
    number = draw(st.sampled_from(["99", "99.5", "100", "1e2", "1.5", "5.4", "5", "72", "0"]))
    unit = draw(st.sampled_from(["", f"|{UCUM}|mg/dL", "||mg/dL", "||kg", f"|{UCUM}|kg"]))
    return f"{prefix}{number}{unit}"


@st.composite
def patient_criteria(draw: st.DrawFn) -> tuple[str, str]:
    kind = draw(st.sampled_from(["gender", "identifier", "name", "birthdate", "missing",
                                 "active", "link", "has", "id"]))  # fmt: skip
    if kind == "gender":
        modifier = draw(st.sampled_from(["", ":not"]))
        values = draw(st.lists(st.sampled_from(["male", "female", "other", "unknown"]),
                               min_size=1, max_size=2))  # fmt: skip
        return f"gender{modifier}", ",".join(values)
    if kind == "identifier":
        system = draw(st.sampled_from(SYSTEMS))
        value = draw(st.sampled_from(["A1", "B2", "C3"]))
        form = draw(st.sampled_from([f"{system}|{value}", value, f"{system}|", f"|{value}"]))
        return "identifier", form
    if kind == "name":
        param = draw(st.sampled_from(["name", "family", "given"]))
        modifier = draw(st.sampled_from(["", ":contains", ":exact"]))
        if modifier == ":exact":
            return f"{param}{modifier}", draw(st.sampled_from(FAMILIES + GIVENS))
        return f"{param}{modifier}", _name_fragment(draw)
    if kind == "birthdate":
        return "birthdate", draw(st.sampled_from(PREFIXES)) + draw(fhir_dates())
    if kind == "missing":
        param = draw(st.sampled_from(["birthdate", "gender", "name", "identifier", "link"]))
        return f"{param}:missing", draw(st.sampled_from(["true", "false"]))
    if kind == "active":
        return "active", draw(st.sampled_from(["true", "false"]))
    if kind == "link":
        return "link", f"Patient/p{draw(st.integers(0, N_PATIENTS - 1))}"
    if kind == "has":
        code = draw(st.sampled_from(CODES))
        return "_has:Observation:subject:code", f"{LOINC}|{code}"
    return "_id", ",".join(f"p{i}" for i in draw(st.sets(st.integers(0, 6), min_size=1)))


@st.composite
def observation_criteria(draw: st.DrawFn) -> tuple[str, str]:
    kind = draw(st.sampled_from(["code", "status", "value", "date", "subject", "chain",
                                 "missing", "text", "has-member"]))  # fmt: skip
    if kind == "code":
        code = draw(st.sampled_from(CODES))
        return draw(st.sampled_from(["code", "code:not"])), draw(
            st.sampled_from([f"{LOINC}|{code}", code, f"{LOINC}|"])
        )
    if kind == "status":
        return "status", draw(st.sampled_from(STATUSES))
    if kind == "value":
        return "value-quantity", _quantity(draw)
    if kind == "date":
        return "date", draw(st.sampled_from(PREFIXES)) + draw(fhir_dates(times=True))
    if kind == "subject":
        target = f"p{draw(st.integers(0, N_PATIENTS))}"
        param = draw(st.sampled_from(["subject", "patient", "subject:Patient"]))
        return param, draw(st.sampled_from([f"Patient/{target}", target]))
    if kind == "chain":
        name, value = draw(patient_criteria().filter(lambda c: not c[0].startswith("_has")))
        return f"{draw(st.sampled_from(['subject:Patient', 'patient']))}.{name}", value
    if kind == "missing":
        param = draw(st.sampled_from(["subject", "value-quantity", "date"]))
        return f"{param}:missing", draw(st.sampled_from(["true", "false"]))
    if kind == "text":
        return "code:text", draw(st.sampled_from(["glu", "GLU", "체", "blood p", "x"]))
    return "has-member", f"Observation/o{draw(st.integers(0, 8))}"


PATIENT_SORTS = ["birthdate", "-birthdate", "family", "-family", "gender", "_id", "-_id",
                 "given", "-name", "identifier", "active", "link"]  # fmt: skip
OBSERVATION_SORTS = ["date", "-date", "value-quantity", "-value-quantity", "code", "status",
                     "subject", "-subject", "_id"]  # fmt: skip


@st.composite
def searches(draw: st.DrawFn) -> tuple[str, list[tuple[str, str]]]:
    resource_type = draw(st.sampled_from(["Patient", "Observation"]))
    criteria = patient_criteria() if resource_type == "Patient" else observation_criteria()
    params = draw(st.lists(criteria, max_size=2))
    if draw(st.booleans()):
        sorts = PATIENT_SORTS if resource_type == "Patient" else OBSERVATION_SORTS
        keys = draw(st.lists(st.sampled_from(sorts), min_size=1, max_size=2, unique=True))
        params.append(("_sort", ",".join(keys)))
    return resource_type, params


# -- the stores ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str | None]:
    """A private PostgreSQL database (ICU en-US collation), or None: then only SQLite is
    compared."""
    # a language collation, as a production database would have: sorting must
    # still follow the reference's code point order ("lee-kim" before "leeb")
    icu = "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8' TEMPLATE template0"
    try:
        with private_database(f"khealth_property_{os.getpid()}", icu) as url:
            yield url
    except PostgresUnavailable:
        yield None


@pytest.fixture(scope="module")
def sql_stores(
    sqlite_template: Path, pg_url: str | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, SqlStore]]:
    path = tmp_path_factory.mktemp("property") / "khealth.db"
    shutil.copy(sqlite_template, path)
    stores = {"sqlite": open_store(f"sqlite:///{path}")}
    if pg_url is not None:
        stores["postgres"] = open_store(pg_url)
    yield stores
    for store in stores.values():
        store.close()


def _load(store: ResourceStore, resources: list[dict[str, Any]]) -> Records:
    records = Records(store, FrozenClock())
    with records.begin(system_context(), "load") as rs:
        for resource in resources:
            rs.update(resource["resourceType"], resource["id"], resource)
    return records


def _ids(records: Records, resource_type: str, params: list[tuple[str, str]]) -> list[str]:
    query = parse_search(resource_type, [*params, ("_count", "100")])
    with records.begin(system_context(), "search") as rs:
        return [m.id for m in rs.search(query).page.matches]


#: more examples for a bug hunt: KHEALTH_PROPERTY_EXAMPLES=1000
EXAMPLES = int(os.environ.get("KHEALTH_PROPERTY_EXAMPLES", "60"))


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
@given(data=datasets(), queries=st.lists(searches(), min_size=1, max_size=8))
def test_sql_stores_return_the_same_ids_as_the_memory_store(
    sql_stores: dict[str, SqlStore],
    data: list[dict[str, Any]],
    queries: list[tuple[str, list[tuple[str, str]]]],
) -> None:
    memory = _load(MemoryStore(), data)
    backends = {}
    for name, store in sql_stores.items():
        empty_tables(store)
        backends[name] = _load(store, data)
    for resource_type, params in queries:
        try:
            expected = _ids(memory, resource_type, params)
        except KhealthError:  # a search the generator made invalid: every store refuses it
            for records in backends.values():
                with pytest.raises(KhealthError):
                    _ids(records, resource_type, params)
            continue
        ordered = any(name == "_sort" for name, _ in params)
        for name, records in backends.items():
            found = _ids(records, resource_type, params)
            if not ordered:
                found, want = sorted(found), sorted(expected)
            else:
                want = expected
            assert found == want, f"{name} disagrees with memory on {resource_type}?{params}"
        if os.environ.get("KHEALTH_PROPERTY_STATS"):
            print("STAT", resource_type, params, len(expected))
