"""Adding a deny provision to a consent never widens access (issue 5): for random consents,
resources and callers, wherever the deny leaf goes in the provision tree."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from khealth.access.break_glass import BreakGlassGrant
from khealth.access.consent import CATEGORY_PURPOSES, ResourceMeta
from khealth.access.consent_decision import decide
from khealth.access.consent_model import Actor, CodeMatch, ConsentRecord, Period, Provision
from khealth.access.context import AccessContext, PurposeOfUse, Role
from khealth.access.scopes import parse_scopes

NOW = 1_000_000
ROLES = [Role.CLINICIAN, Role.HOSPITAL_SYSTEM, Role.EMS, Role.OPERATOR, Role.RESEARCHER,
         Role.CITIZEN, Role.AUDITOR]  # fmt: skip
TYPES = ["Observation", "Condition", "Encounter", "Patient", "MedicationRequest"]
LABELS = ["PSY", "HIV", "GDIS", "SEX", "R", "ETH"]
CODES = [("http://www.hl7korea.or.kr/CodeSystem/kostat-kcd-8", c) for c in ("F32.9", "I10", "B20", "O03")]  # fmt: skip
CATEGORIES = sorted(CATEGORY_PURPOSES)
SENSITIVE = ["mental-health", "sti-hiv", "genetics", "reproductive-health", "restricted"]

periods = st.one_of(st.none(), st.builds(Period, st.sampled_from([None, 0, NOW + 1]),
                                         st.sampled_from([None, NOW - 1, NOW * 2])))  # fmt: skip
actors = st.builds(
    Actor, st.sampled_from([None, "clinician", "EMS", "PRCP"]),
    st.sampled_from([None, "Organization/fa", "Organization/fb", "Practitioner/p1"]),
)  # fmt: skip


def provisions(kind: st.SearchStrategy[str], depth: int = 2) -> st.SearchStrategy[Provision]:
    children = st.just(()) if depth == 0 else st.lists(provisions(kind, depth - 1), max_size=2).map(tuple)  # fmt: skip
    return st.builds(
        Provision, kind, periods, st.lists(actors, max_size=2).map(tuple),
        st.frozensets(st.sampled_from(["access", "correct", "collect"]), max_size=1),
        st.frozensets(st.sampled_from(LABELS), max_size=2),
        st.frozensets(st.sampled_from(["TREAT", "ETREAT", "HRESCH", "PATRQT"]), max_size=2),
        st.frozensets(st.sampled_from(TYPES), max_size=2),
        st.lists(st.builds(CodeMatch, st.sampled_from([None, CODES[0][0]]),
                           st.sampled_from(["F", "F32", "I1", "B2", "O"])), max_size=1).map(tuple),
        periods, st.frozensets(st.sampled_from(["Observation/o1", "Condition/c1"]), max_size=1),
        children,
    )  # fmt: skip


consents = st.builds(
    ConsentRecord, st.sampled_from(["c1", "c2"]), st.sampled_from(["p1", "p2"]),
    st.sampled_from(["active", "active", "inactive"]), st.sampled_from([None, "patient-privacy"]),
    st.frozensets(st.sampled_from(CATEGORIES), max_size=2),
    st.sampled_from([None, "OPTIN", "OPTOUT"]),
    st.one_of(st.none(), provisions(st.sampled_from(["permit", "deny"]))),
)  # fmt: skip
metas = st.builds(
    ResourceMeta, st.sampled_from(TYPES), st.sampled_from(["o1", "c1", "x"]),
    st.frozensets(st.sampled_from(["p1", "p2"]), max_size=2),
    st.frozensets(st.sampled_from(["facility:fa", "facility:fb", "agent:dan"]), max_size=1),
    st.frozensets(st.sampled_from(LABELS), max_size=2),
    st.frozensets(st.sampled_from(CODES), max_size=2),
    st.frozensets(st.sampled_from(SENSITIVE), max_size=2),
    st.sampled_from([None, 0, NOW]),
    st.sampled_from([(), ("Condition/c1",)]),
)  # fmt: skip
contexts = st.builds(
    lambda role, facility, purpose, subject: AccessContext(
        subject=subject, role=role, scopes=parse_scopes("user/*.rs"), facility=facility,
        purpose=purpose),
    st.sampled_from(ROLES), st.sampled_from([None, "fa", "fb"]),
    st.sampled_from(list(PurposeOfUse)), st.sampled_from(["dan", "p1", "carol"]),
)  # fmt: skip
grants = st.one_of(st.none(), st.builds(
    BreakGlassGrant, st.just("g"), st.sampled_from(["dan", "carol"]), st.just("ems"),
    st.sampled_from(["p1", "p2"]), st.just("unconscious"), st.just("x"), st.just(0),
    st.sampled_from([NOW - 1, NOW + 1]),
))  # fmt: skip
deny_leaves = provisions(st.just("deny"), depth=0)


def with_deny(provision: Provision | None, leaf: Provision, path: list[int]) -> Provision:
    """``provision`` with ``leaf`` added as a child of the node ``path`` leads to (a new
    root deny when there was no provision)."""
    if provision is None:
        return leaf
    if not path or not provision.provisions:
        return replace(provision, provisions=(*provision.provisions, leaf))
    i = path[0] % len(provision.provisions)
    children = list(provision.provisions)
    children[i] = with_deny(children[i], leaf, path[1:])
    return replace(provision, provisions=tuple(children))


@settings(max_examples=200, deadline=None)
@given(
    ctx=contexts, meta=metas, found=st.lists(consents, max_size=3), grant=grants,
    leaf=deny_leaves, which=st.integers(0, 2), path=st.lists(st.integers(0, 3), max_size=3),
    write=st.booleans(),
)  # fmt: skip
def test_adding_a_deny_provision_never_widens_access(
    ctx: AccessContext, meta: ResourceMeta, found: list[ConsentRecord],
    grant: BreakGlassGrant | None, leaf: Provision, which: int, path: list[int], write: bool,
) -> None:  # fmt: skip
    before = decide(ctx, meta, found, now=NOW, grant=grant, write=write)
    if found:
        i = which % len(found)
        narrowed = [*found]
        narrowed[i] = replace(found[i], provision=with_deny(found[i].provision, leaf, path))
    else:
        narrowed = [ConsentRecord("new", "p1", "active", None, frozenset(), None, leaf)]
    after = decide(ctx, meta, narrowed, now=NOW, grant=grant, write=write)
    assert before.allowed or not after.allowed
