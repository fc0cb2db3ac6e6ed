"""FHIR R4 search syntax → SearchQuery, as tables of query strings and expected fragments.

Queries are written already URL-decoded (as ``parse_search`` receives them), so ``|``, ``$``
and backslash escapes appear literally.  (http://hl7.org/fhir/R4/search.html)
"""

from __future__ import annotations

from typing import Any

import pytest

from khealth.core.errors import InvalidRequest
from khealth.fhir.fhirdates import date_range
from khealth.fhir.fhirnumbers import precision_range
from khealth.fhir.search_model import (
    Chain,
    CompositeSearch,
    Criterion,
    DateSearch,
    Has,
    Include,
    NumberSearch,
    Prefix,
    QuantitySearch,
    ReferenceSearch,
    SearchQuery,
    SortKey,
    StringSearch,
    TokenSearch,
    TotalMode,
    UriSearch,
)
from khealth.fhir.search_parse import parse_search

pytestmark = pytest.mark.unit

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
JAN_2020 = (1577836800000000, 1580515199999999)  # 2020-01, inclusive microseconds


def pairs(query: str) -> list[tuple[str, str]]:
    """``a=1&b=2`` → [("a", "1"), ("b", "2")], without any decoding."""
    found = []
    for part in query.split("&"):
        name, _, value = part.partition("=")
        found.append((name, value))
    return found


def parse(resource_type: str | None, query: str, **options: Any) -> SearchQuery:
    return parse_search(resource_type, pairs(query), **options)


def date(prefix: Prefix, text: str) -> DateSearch:
    return DateSearch(prefix, *date_range(text))


def token(param: str, *values: TokenSearch, modifier: str | None = None) -> Criterion:
    return Criterion(param, "token", values, modifier)


def string(param: str, *raws: str, modifier: str | None = None) -> Criterion:
    values = tuple(StringSearch(r.casefold(), r) for r in raws)
    return Criterion(param, "string", values, modifier)


def reference(param: str, *values: ReferenceSearch, modifier: str | None = None) -> Criterion:
    return Criterion(param, "reference", values, modifier)


def quantity(prefix: Prefix, value: float, low: float, high: float, system: str | None = None,
             code: str | None = None) -> QuantitySearch:  # fmt: skip
    return QuantitySearch(prefix, value, low, high, system, code)


# (resource type, query, the one clause expected)
CLAUSES: list[tuple[str | None, str, object]] = [
    # token: every [system]|[code] form, OR lists, escapes, modifiers
    ("Observation", "code=1234-5", token("code", TokenSearch(None, "1234-5"))),
    ("Observation", f"code={LOINC}|1234-5", token("code", TokenSearch(LOINC, "1234-5"))),
    ("Observation", "code=|1234-5", token("code", TokenSearch("", "1234-5"))),
    ("Observation", f"code={LOINC}|", token("code", TokenSearch(LOINC, None))),
    (
        "Observation",
        f"code={LOINC}|1234-5,|8480-6,x",
        token(
            "code",
            TokenSearch(LOINC, "1234-5"),
            TokenSearch("", "8480-6"),
            TokenSearch(None, "x"),
        ),
    ),
    ("Observation", "code=a\\,b", token("code", TokenSearch(None, "a,b"))),
    ("Observation", "code=sys|a\\|b", token("code", TokenSearch("sys", "a|b"))),
    (
        "Observation",
        "code=a\\\\,b",
        token("code", TokenSearch(None, "a\\"), TokenSearch(None, "b")),
    ),
    ("Observation", "code=a\\$b", token("code", TokenSearch(None, "a$b"))),
    ("Observation", "code=a,,b", token("code", TokenSearch(None, "a"), TokenSearch(None, "b"))),
    ("Patient", "gender:not=male", token("gender", TokenSearch(None, "male"), modifier="not")),
    (
        "Condition",
        "code:text=Héart Attack",
        token("code", TokenSearch(None, "heart attack"), modifier="text"),
    ),
    (
        "Patient",
        "identifier=urn:oid:1.2|9001",
        token("identifier", TokenSearch("urn:oid:1.2", "9001")),
    ),
    ("MedicationRequest", "intent=order", token("intent", TokenSearch(None, "order"))),
    (
        "Patient",
        "_tag=http://khealth.kr/tags|vip",
        token("_tag", TokenSearch("http://khealth.kr/tags", "vip")),
    ),
    ("Patient", "_security=|R", token("_security", TokenSearch("", "R"))),
    # _id: plain ids, :not
    ("Patient", "_id=a1,b-2.c", token("_id", TokenSearch(None, "a1"), TokenSearch(None, "b-2.c"))),
    ("Patient", "_id:not=a1", token("_id", TokenSearch(None, "a1"), modifier="not")),
    # :missing on any type
    ("Patient", "birthdate:missing=true", Criterion("birthdate", "date", (), "missing", True)),
    (
        "Observation",
        "subject:missing=false",
        Criterion("subject", "reference", (), "missing", False),
    ),
    (
        "Observation",
        "component-code-value-quantity:missing=true",
        Criterion("component-code-value-quantity", "composite", (), "missing", True),
    ),
    # string: normalised plus raw, :exact, :contains, Hangul untouched
    ("Patient", "name=Kim", string("name", "Kim")),
    ("Patient", "name=José", Criterion("name", "string", (StringSearch("jose", "José"),))),
    ("Patient", "name=김민,이", string("name", "김민", "이")),
    ("Patient", "name:exact=Kim", string("name", "Kim", modifier="exact")),
    ("Patient", "name:contains=im", string("name", "im", modifier="contains")),
    ("Patient", "name=Kim\\, Jr", string("name", "Kim, Jr")),
    ("Immunization", "lot-number=AB\\|12", string("lot-number", "AB|12")),
    # date: every prefix, partial dates, zone offsets
    ("Observation", "date=2020-01", Criterion("date", "date", (DateSearch(Prefix.EQ, *JAN_2020),))),
    *[
        (
            "Patient",
            f"birthdate={p.value}1980-05-01",
            Criterion("birthdate", "date", (date(p, "1980-05-01"),)),
        )
        for p in Prefix
    ],
    (
        "Observation",
        "date=ge2020-01-01T09:00:00+09:00",
        Criterion("date", "date", (date(Prefix.GE, "2020-01-01T00:00:00Z"),)),
    ),
    (
        "Observation",  # an unencoded "+" arrives as a space after form decoding
        "date=lt2020-01-01T09:00:00 09:00",
        Criterion("date", "date", (date(Prefix.LT, "2020-01-01T00:00:00Z"),)),
    ),
    (
        "Condition",
        "onset-date=ge2019,lt2018",
        Criterion("onset-date", "date", (date(Prefix.GE, "2019"), date(Prefix.LT, "2018"))),
    ),
    (
        "Patient",
        "_lastUpdated=gt2024-05-01",
        Criterion("_lastUpdated", "date", (date(Prefix.GT, "2024-05-01"),)),
    ),
    # number: prefixes and implied precision
    (
        "RiskAssessment",
        "probability=0.8",
        Criterion("probability", "number", (NumberSearch(Prefix.EQ, 0.8, 0.75, 0.85),)),
    ),
    (
        "RiskAssessment",
        "probability=gt0.8",
        Criterion("probability", "number", (NumberSearch(Prefix.GT, 0.8, 0.75, 0.85),)),
    ),
    (
        "RiskAssessment",
        "probability=ap1e-1",
        Criterion("probability", "number", (NumberSearch(Prefix.AP, *precision_range("1e-1")),)),
    ),
    # quantity: number, number|system|code, number||code
    (
        "Observation",
        "value-quantity=5.4",
        Criterion("value-quantity", "quantity", (quantity(Prefix.EQ, 5.4, 5.35, 5.45),)),
    ),
    (
        "Observation",
        f"value-quantity=le5.4|{UCUM}|mg",
        Criterion(
            "value-quantity", "quantity", (quantity(Prefix.LE, 5.4, 5.35, 5.45, UCUM, "mg"),)
        ),
    ),
    (
        "Observation",
        "value-quantity=ne100||mmol/L",
        Criterion(
            "value-quantity", "quantity", (quantity(Prefix.NE, 100.0, 99.5, 100.5, None, "mmol/L"),)
        ),
    ),
    (
        "Encounter",
        "length=gt30||min",
        Criterion("length", "quantity", (quantity(Prefix.GT, 30.0, 29.5, 30.5, None, "min"),)),
    ),
    # uri: plain, :below, :above
    (
        "Patient",
        "_profile=http://khealth.kr/fhir/StructureDefinition/kr-patient",
        Criterion(
            "_profile", "uri", (UriSearch("http://khealth.kr/fhir/StructureDefinition/kr-patient"),)
        ),
    ),
    (
        "Patient",
        "_profile:below=http://khealth.kr/fhir/",
        Criterion("_profile", "uri", (UriSearch("http://khealth.kr/fhir/"),), "below"),
    ),
    (
        "Patient",
        "_source:above=http://a/b/c",
        Criterion("_source", "uri", (UriSearch("http://a/b/c"),), "above"),
    ),
    # reference: Type/id, id, absolute URL, canonical, :Type, :identifier
    ("Observation", "subject=Patient/123", reference("subject", ReferenceSearch("Patient", "123"))),
    ("Observation", "subject=123", reference("subject", ReferenceSearch(None, "123"))),
    ("Observation", "subject:Patient=123", reference("subject", ReferenceSearch("Patient", "123"))),
    (
        "Observation",
        "subject:Patient=Patient/123",
        reference("subject", ReferenceSearch("Patient", "123")),
    ),
    (
        "Observation",
        "subject=http://other.kr/fhir/Patient/9",
        reference("subject", ReferenceSearch(None, None, "http://other.kr/fhir/Patient/9")),
    ),
    (
        "Observation",
        "subject=urn:uuid:7d0a1a3c-0000-4000-8000-000000000001",
        reference(
            "subject", ReferenceSearch(None, None, "urn:uuid:7d0a1a3c-0000-4000-8000-000000000001")
        ),
    ),
    (
        "QuestionnaireResponse",
        "questionnaire=http://khealth.kr/Questionnaire/phq9|1.0",
        reference(
            "questionnaire", ReferenceSearch(None, None, "http://khealth.kr/Questionnaire/phq9|1.0")
        ),
    ),
    (
        "Patient",
        "general-practitioner=Practitioner/p1,PractitionerRole/r1",
        reference(
            "general-practitioner",
            ReferenceSearch("Practitioner", "p1"),
            ReferenceSearch("PractitionerRole", "r1"),
        ),
    ),
    (
        "Observation",
        "subject:identifier=urn:oid:1.2|9001",
        Criterion("subject", "reference", (TokenSearch("urn:oid:1.2", "9001"),), "identifier"),
    ),
    (
        "MedicationRequest",
        "medication=Medication/m1",
        reference("medication", ReferenceSearch("Medication", "m1")),
    ),
    # composite: components typed by their own definitions, prefixes inside
    (
        "Observation",
        f"component-code-value-quantity={LOINC}|8480-6$gt140",
        Criterion(
            "component-code-value-quantity",
            "composite",
            (
                CompositeSearch(
                    (TokenSearch(LOINC, "8480-6"), quantity(Prefix.GT, 140.0, 139.5, 140.5))
                ),
            ),
        ),
    ),
    (
        "Observation",
        f"code-value-quantity={LOINC}|2339-0$lt7.0|{UCUM}|mmol/L,x$5",
        Criterion(
            "code-value-quantity",
            "composite",
            (
                CompositeSearch(
                    (
                        TokenSearch(LOINC, "2339-0"),
                        quantity(Prefix.LT, 7.0, 6.95, 7.05, UCUM, "mmol/L"),
                    )
                ),
                CompositeSearch((TokenSearch(None, "x"), quantity(Prefix.EQ, 5.0, 4.5, 5.5))),
            ),
        ),
    ),
    (
        "Observation",
        "code-value-concept=a\\$b$c",
        Criterion(
            "code-value-concept",
            "composite",
            (CompositeSearch((TokenSearch(None, "a$b"), TokenSearch(None, "c"))),),
        ),
    ),
    # chains: explicit type, inferred single target, multi-level, modifiers at the end
    ("Observation", "subject:Patient.name=kim", Chain("subject", "Patient", string("name", "kim"))),
    ("Observation", "patient.name=kim", Chain("patient", "Patient", string("name", "kim"))),
    (
        "Encounter",
        "service-provider.name:exact=Seoul",
        Chain("service-provider", "Organization", string("name", "Seoul", modifier="exact")),
    ),
    (
        "Observation",
        "subject:Patient.organization.name=x",
        Chain("subject", "Patient", Chain("organization", "Organization", string("name", "x"))),
    ),
    (
        "Observation",
        "subject:Patient.birthdate=lt1950",
        Chain("subject", "Patient", Criterion("birthdate", "date", (date(Prefix.LT, "1950"),))),
    ),
    (
        "MedicationRequest",
        "medication.code=http://www.whocc.no/atc|C10AA05",
        Chain(
            "medication",
            "Medication",
            token("code", TokenSearch("http://www.whocc.no/atc", "C10AA05")),
        ),
    ),
    (
        "Observation",
        "encounter:Encounter._id=e1",
        Chain("encounter", "Encounter", token("_id", TokenSearch(None, "e1"))),
    ),
    # _has, nested, and with a chain inside
    (
        "Patient",
        "_has:Observation:patient:code=1234-5",
        Has("Observation", "patient", token("code", TokenSearch(None, "1234-5"))),
    ),
    (
        "Patient",
        "_has:Observation:patient:_has:AuditEvent:entity:agent=Practitioner/p1",
        Has(
            "Observation",
            "patient",
            Has("AuditEvent", "entity", reference("agent", ReferenceSearch("Practitioner", "p1"))),
        ),
    ),
    (
        "Encounter",
        "_has:Condition:encounter:code:not=I10",
        Has("Condition", "encounter", token("code", TokenSearch(None, "I10"), modifier="not")),
    ),
    (
        "Patient",
        "_has:Encounter:patient:service-provider.name=Seoul",
        Has(
            "Encounter",
            "patient",
            Chain("service-provider", "Organization", string("name", "Seoul")),
        ),
    ),
    # system-level search
    (None, "_id=a1", token("_id", TokenSearch(None, "a1"))),
    (None, "_lastUpdated=ge2024", Criterion("_lastUpdated", "date", (date(Prefix.GE, "2024"),))),
    (None, "_tag=sys|x", token("_tag", TokenSearch("sys", "x"))),
    (None, "_profile=http://p", Criterion("_profile", "uri", (UriSearch("http://p"),))),
]


@pytest.mark.parametrize(("resource_type", "query", "expected"), CLAUSES)
def test_it_parses_each_search_parameter_form(
    resource_type: str | None, query: str, expected: object
) -> None:
    assert parse(resource_type, query).clauses == (expected,)


def test_repeated_parameters_become_separate_anded_criteria() -> None:
    found = parse("Patient", "birthdate=ge1980&birthdate=lt1990")
    assert found.clauses == (
        Criterion("birthdate", "date", (date(Prefix.GE, "1980"),)),
        Criterion("birthdate", "date", (date(Prefix.LT, "1990"),)),
    )


@pytest.mark.parametrize(
    ("resource_type", "query"),
    [
        ("Patient", "name="),
        ("Observation", "code=,"),
        ("Patient", "name:missing="),
        ("Observation", "subject:Patient.name="),
        ("Patient", "_has:Observation:patient:code="),
    ],
)
def test_empty_values_are_ignored(resource_type: str, query: str) -> None:
    assert parse(resource_type, query).clauses == ()


def test_a_search_without_parameters_has_the_defaults() -> None:
    assert parse("Patient", "") == SearchQuery("Patient")
    assert parse_search("Patient", [("", ""), ("", "x")]) == SearchQuery("Patient")
    assert parse_search("Patient", [], default_count=50).count == 50


# (resource type, query, attribute of SearchQuery, expected)
RESULTS: list[tuple[str | None, str, str, object]] = [
    ("Patient", "_count=5", "count", 5),
    ("Patient", "_count=0", "count", 0),
    ("Patient", "_count=5000", "count", 1000),
    ("Patient", "_count=", "count", 20),
    ("Patient", "_offset=40", "offset", 40),
    ("Patient", "_snapshot=12345", "snapshot", 12345),
    ("Patient", "_total=accurate", "total", TotalMode.ACCURATE),
    ("Patient", "_total=estimate", "total", TotalMode.ESTIMATE),
    ("Patient", "_total=none", "total", TotalMode.NONE),
    *[
        ("Patient", f"_summary={mode}", "summary", mode)
        for mode in ("true", "text", "data", "count", "false")
    ],
    ("Patient", "_elements=name,birthDate", "elements", ("name", "birthDate")),
    (
        "Patient",
        "_elements=name&_elements=Patient.gender,name",
        "elements",
        ("name", "Patient.gender"),
    ),
    ("Observation", "_elements=value[x]", "elements", ("value[x]",)),
    (
        "Observation",
        "_sort=-date,_id,_lastUpdated,code",
        "sort",
        (
            SortKey("date", "date", True),
            SortKey("_id", "token"),
            SortKey("_lastUpdated", "date"),
            SortKey("code", "token"),
        ),
    ),
    (
        "Patient",
        "_sort=birthdate,-name",
        "sort",
        (SortKey("birthdate", "date"), SortKey("name", "string", True)),
    ),
    ("Observation", "_sort=subject", "sort", (SortKey("subject", "reference"),)),
    (None, "_sort=-_lastUpdated", "sort", (SortKey("_lastUpdated", "date", True),)),
    (
        "Observation",
        "_include=Observation:subject",
        "includes",
        (Include("Observation", "subject"),),
    ),
    (
        "Observation",
        "_include=Observation:subject:Patient",
        "includes",
        (Include("Observation", "subject", "Patient"),),
    ),
    ("Observation", "_include=*", "includes", (Include("Observation", "*"),)),
    ("Observation", "_include=Observation:*", "includes", (Include("Observation", "*"),)),
    (
        "MedicationRequest",
        "_include=MedicationRequest:medication&_include:iterate=Medication:manufacturer",
        "includes",
        (
            Include("MedicationRequest", "medication"),
            Include("Medication", "manufacturer", iterate=True),
        ),
    ),
    (
        "Encounter",
        "_include:recurse=Patient:organization",
        "includes",
        (Include("Patient", "organization", iterate=True),),
    ),
    (
        "Patient",
        "_revinclude=Observation:subject",
        "revincludes",
        (Include("Observation", "subject", reverse=True),),
    ),
    (
        "Patient",
        "_revinclude=Provenance:target:Patient",
        "revincludes",
        (Include("Provenance", "target", "Patient", reverse=True),),
    ),
    ("Patient", "_revinclude=*", "revincludes", (Include("Patient", "*", reverse=True),)),
    (
        "Patient",
        "_revinclude=Encounter:patient&_revinclude:iterate=Condition:encounter",
        "revincludes",
        (
            Include("Encounter", "patient", reverse=True),
            Include("Condition", "encounter", iterate=True, reverse=True),
        ),
    ),
    (None, "_type=Patient,Observation&_type=Patient", "types", ("Patient", "Observation")),
    (None, "_include=Observation:subject", "includes", (Include("Observation", "subject"),)),
    ("Patient", "_format=json&_pretty=true", "clauses", ()),
    ("Patient", "_format=application/fhir+json", "clauses", ()),
    ("Patient", "_format=application/fhir json; fhirVersion=4.0", "clauses", ()),
]


@pytest.mark.parametrize(("resource_type", "query", "attribute", "expected"), RESULTS)
def test_it_reads_result_parameters(
    resource_type: str | None, query: str, attribute: str, expected: object
) -> None:
    assert getattr(parse(resource_type, query), attribute) == expected


def test_count_is_capped_at_the_configured_maximum() -> None:
    assert parse_search("Patient", [("_count", "80")], max_count=50).count == 50
    assert parse_search("Patient", [], default_count=100, max_count=50).count == 50


# (resource type, query, text the diagnostics must name, issue code)
ERRORS: list[tuple[str | None, str, str, str]] = [
    # unknown or unsupported parameters and modifiers
    ("Patient", "foo=1", "'foo'", "not-supported"),
    ("Patient", "_text=x", "'_text'", "not-supported"),
    ("Patient", "_content=x", "'_content'", "not-supported"),
    ("Patient", "_list=x", "'_list'", "not-supported"),
    ("Location", "near=37.5|127.0|10|km", "'near'", "not-supported"),
    ("Patient", "_type=Patient", "'_type'", "not-supported"),
    ("Patient", "name:foo=x", "'name:foo'", "invalid"),
    ("Patient", "name:not=x", "'name:not'", "invalid"),
    ("Patient", "birthdate:exact=1980", "'birthdate:exact'", "invalid"),
    ("Patient", "gender:exact=male", "'gender:exact'", "invalid"),
    ("Observation", "code:in=http://vs", "'code:in'", "not-supported"),
    ("Patient", "identifier:of-type=a|b|c", "'identifier:of-type'", "not-supported"),
    ("Observation", "code:below=x", "'code:below'", "not-supported"),
    ("Observation", "subject:below=x", "'subject:below'", "not-supported"),
    ("Patient", "_id:missing=true", "'_id:missing'", "invalid"),
    ("Patient", "name:missing=yes", "'name:missing'", "invalid"),
    ("Observation", "value-quantity:text=x", "'value-quantity:text'", "invalid"),
    (
        "Observation",
        "component-code-value-quantity:exact=x",
        "component-code-value-quantity",
        "invalid",
    ),
    # bad values of known parameters
    ("Patient", "birthdate=xx1980", "'birthdate'", "invalid"),
    ("Patient", "birthdate=1980-13", "'birthdate'", "invalid"),
    ("Patient", "birthdate=ge", "'birthdate'", "invalid"),
    ("Patient", "birthdate=GE1980", "'birthdate'", "invalid"),
    ("Patient", "_lastUpdated=yesterday", "'_lastUpdated'", "invalid"),
    ("RiskAssessment", "probability=gt", "'probability'", "invalid"),
    ("RiskAssessment", "probability=abc", "'probability'", "invalid"),
    ("RiskAssessment", "probability=nan", "'probability'", "invalid"),
    ("Observation", "value-quantity=5.4|mg", "'value-quantity'", "invalid"),
    ("Observation", "value-quantity=five||mg", "'value-quantity'", "invalid"),
    ("Observation", "code=a|b|c", "'code'", "invalid"),
    ("Observation", "code=|", "'code'", "invalid"),
    ("Patient", "_id=a/b", "'_id'", "invalid"),
    ("Patient", "_id=" + "x" * 65, "'_id'", "invalid"),
    ("Observation", "subject=Medication/1", "'subject'", "invalid"),
    ("Observation", "subject:Patient=Group/1", "'subject:Patient'", "invalid"),
    ("Patient", "_lastUpdated:missing=true", "'_lastUpdated:missing'", "invalid"),
    ("Patient", "_id:exact=a", "'_id:exact'", "invalid"),
    ("Observation", "subject:Medication=1", "'subject:Medication'", "invalid"),
    ("Observation", "subject=patient/1", "'subject'", "invalid"),
    ("Observation", "subject=Patient/1/_history/2", "'subject'", "not-supported"),
    (
        "Observation",
        f"component-code-value-quantity={LOINC}|8480-6",
        "'component-code-value-quantity'",
        "invalid",
    ),
    (
        "Observation",
        "component-code-value-quantity=a$b$c",
        "'component-code-value-quantity'",
        "invalid",
    ),
    (
        "Observation",
        "component-code-value-quantity=a$xx5",
        "'component-code-value-quantity'",
        "invalid",
    ),
    # chains
    ("Observation", "subject.name=kim", "'subject.name'", "invalid"),
    ("Patient", "general-practitioner.name=kim", "'general-practitioner.name'", "invalid"),
    ("Observation", "code.name=kim", "'code.name'", "invalid"),
    ("Observation", "subject:Medication.code=x", "'subject:Medication.code'", "invalid"),
    ("Observation", "subject:identifier.name=x", "'subject:identifier.name'", "invalid"),
    ("Observation", "subject:Patient.foo=x", "'subject:Patient.foo'", "not-supported"),
    ("Observation", "subject:Patient.birthdate=xx", "'subject:Patient.birthdate'", "invalid"),
    (
        "Observation",
        "subject:Patient._has:Encounter:patient:status=finished",
        "subject:Patient._has",
        "not-supported",
    ),
    (
        "Patient",
        "link:Patient.link:Patient.link:Patient.link:Patient.link:Patient.link:Patient.name=x",
        "link:Patient.link",
        "not-supported",
    ),
    # _has
    ("Patient", "_has:Observation:patient=x", "'_has:Observation:patient'", "invalid"),
    ("Patient", "_has:Observation:code:code=x", "'_has:Observation:code:code'", "invalid"),
    (
        "Patient",
        "_has:Observation:encounter:code=x",
        "'_has:Observation:encounter:code'",
        "invalid",
    ),
    ("Patient", "_has:Spaceship:patient:code=x", "'_has:Spaceship:patient:code'", "not-supported"),
    (
        "Patient",
        "_has:Observation:patient:foo=x",
        "'_has:Observation:patient:foo'",
        "not-supported",
    ),
    # result parameters
    ("Patient", "_count=-1", "'_count'", "invalid"),
    ("Patient", "_count=ten", "'_count'", "invalid"),
    ("Patient", "_count=5&_count=6", "'_count'", "invalid"),
    ("Patient", "_count:x=5", "'_count:x'", "invalid"),
    ("Patient", "_offset=-5", "'_offset'", "invalid"),
    ("Patient", "_snapshot=abc", "'_snapshot'", "invalid"),
    ("Patient", "_total=all", "'_total'", "invalid"),
    ("Patient", "_summary=yes", "'_summary'", "invalid"),
    ("Patient", "_elements=name,,gender", "'_elements'", "invalid"),
    ("Patient", "_sort=shoe-size", "'_sort'", "invalid"),
    ("Patient", "_sort=name&_sort=birthdate", "'_sort'", "invalid"),
    ("Observation", "_sort=component-code-value-quantity", "'_sort'", "not-supported"),
    ("Observation", "_sort=subject.name", "'_sort'", "invalid"),
    (None, "_sort=name", "'_sort'", "invalid"),
    ("Observation", "_include=Observation:code", "'_include'", "invalid"),
    ("Observation", "_include=Observation:nope", "'_include'", "invalid"),
    ("Observation", "_include=Observation", "'_include'", "invalid"),
    ("Observation", "_include=Observation:subject:Medication", "'_include'", "invalid"),
    ("Observation", "_include=Patient:organization", "'_include'", "invalid"),
    ("Observation", "_include=Spaceship:pilot", "'_include'", "not-supported"),
    ("Observation", "_include:deep=Observation:subject", "'_include:deep'", "invalid"),
    ("Patient", "_revinclude=Observation:code", "'_revinclude'", "invalid"),
    ("Patient", "_revinclude=Encounter:service-provider", "'_revinclude'", "invalid"),
    ("Patient", "_revinclude=Provenance:target:Encounter", "'_revinclude'", "invalid"),
    (None, "_include=*", "'_include'", "invalid"),
    (None, "_type=Patient,Spaceship", "'_type'", "not-supported"),
    ("Patient", "_format=xml", "'_format'", "not-supported"),
    # system-level search knows only the Resource-level parameters
    (None, "name=kim", "'name'", "not-supported"),
    (None, "_source=http://x", "'_source'", "not-supported"),
    (None, "_has:Observation:patient:code=x", "_has", "not-supported"),
    # the type itself
    ("Spaceship", "name=x", "Spaceship", "not-supported"),
]


@pytest.mark.parametrize(("resource_type", "query", "named", "code"), ERRORS)
def test_it_rejects_bad_searches_naming_the_parameter(
    resource_type: str | None, query: str, named: str, code: str
) -> None:
    with pytest.raises(InvalidRequest) as raised:
        parse(resource_type, query)
    assert raised.value.status == 400
    [issue] = raised.value.issues
    assert issue.code == code
    assert named in issue.diagnostics


@pytest.mark.parametrize(
    ("resource_type", "query"),
    [
        ("Patient", "identifier=9001011234567|x|y"),
        ("Patient", "birthdate=ge9001011234567"),
        ("Observation", "subject=Patient/9001011234567!"),
        ("Observation", "value-quantity=9001011234567|x"),
        ("Patient", "_id=9001011234567/x"),
        ("Patient", "name:missing=9001011234567"),
        ("Patient", "_count=9001011234567x"),
        ("Patient", "_sort=9001011234567"),
        (None, "_type=9001011234567"),
        ("Observation", "_include=Observation:subject:9001011234567"),
    ],
)
def test_diagnostics_never_echo_the_value(resource_type: str, query: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        parse(resource_type, query)
    assert "9001011234567" not in raised.value.issues[0].diagnostics


def test_long_parameter_names_are_shortened_in_diagnostics() -> None:
    with pytest.raises(InvalidRequest) as raised:
        parse("Patient", "x" * 500 + "=1")
    assert len(raised.value.issues[0].diagnostics) < 200


def test_lenient_search_drops_unknown_parameters_and_lists_them() -> None:
    found = parse(
        "Patient",
        "foo=1&name=kim&_text=x&subject:Patient.bar=2&_has:Observation:patient:baz=3",
        lenient=True,
    )
    assert found.clauses == (string("name", "kim"),)
    assert found.ignored == ("foo", "_text", "subject:Patient.bar", "_has:Observation:patient:baz")


def test_lenient_search_drops_type_at_type_level_and_non_system_params_at_system_level() -> None:
    assert parse("Patient", "_type=Patient", lenient=True).ignored == ("_type",)
    assert parse(None, "name=kim&_id=a", lenient=True).ignored == ("name",)


@pytest.mark.parametrize(
    "query",
    [
        "birthdate=xx1980",
        "name:foo=x",
        "_count=-1",
        "subject.name=kim",
        "_sort=shoe-size",
        "_include=Observation:code",
    ],
)
def test_lenient_search_still_rejects_bad_values_and_modifiers_of_known_parameters(
    query: str,
) -> None:
    resource_type = "Observation" if "subject" in query or "_include" in query else "Patient"
    with pytest.raises(InvalidRequest):
        parse(resource_type, query, lenient=True)


def test_a_full_search_keeps_clause_order_and_result_parameters() -> None:
    found = parse(
        "Observation",
        f"subject=Patient/123&code={LOINC}|8480-6&date=ge2020-01&_sort=-date&_count=50"
        "&_include=Observation:subject&_total=accurate",
    )
    assert found == SearchQuery(
        resource_type="Observation",
        clauses=(
            reference("subject", ReferenceSearch("Patient", "123")),
            token("code", TokenSearch(LOINC, "8480-6")),
            Criterion("date", "date", (DateSearch(Prefix.GE, *JAN_2020),)),
        ),
        sort=(SortKey("date", "date", True),),
        count=50,
        total=TotalMode.ACCURATE,
        includes=(Include("Observation", "subject"),),
    )
