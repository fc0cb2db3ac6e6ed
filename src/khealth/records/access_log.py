"""A citizen's access log: who accessed my record, when, and why (issue 5; Estonia's
"who viewed my data", PIPA's right to know how one's information was processed).

Read through the audit index (``audit_patient``) under the citizen's own AccessContext; the
reading itself is audited.  An entry names the accessor's role and organisation, the kind
of access, the purpose and the break-the-glass flag.  It never names another citizen (a
guardian or a citizen is shown by role only) and lists resource types, not ids: one search
can list several patients' resources.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from khealth.access.context import AccessContext, Role
from khealth.core.errors import Forbidden, Issue
from khealth.records.service import Records

MAX_PAGE = 200
_PERSONAL_ROLES = {str(Role.CITIZEN), str(Role.GUARDIAN)}

LABELS: dict[str, dict[str, dict[str, str]]] = {
    "role": {
        "citizen": {"ko": "본인", "en": "you"},
        "other-citizen": {"ko": "다른 시민", "en": "another citizen"},
        "guardian": {"ko": "보호자", "en": "guardian"},
        "clinician": {"ko": "의료인", "en": "clinician"},
        "hospital-system": {"ko": "병원 시스템", "en": "hospital system"},
        "ems": {"ko": "구급대", "en": "EMS crew"},
        "researcher": {"ko": "연구자", "en": "researcher"},
        "operator": {"ko": "운영자", "en": "operator"},
        "auditor": {"ko": "감사자", "en": "auditor"},
        "service": {"ko": "플랫폼 서비스", "en": "platform service"},
    },
    "action": {
        "read": {"ko": "조회", "en": "read"},
        "vread": {"ko": "버전 조회", "en": "read a version"},
        "search-type": {"ko": "검색", "en": "search"},
        "search-system": {"ko": "검색", "en": "search"},
        "history": {"ko": "이력 조회", "en": "history"},
        "everything": {"ko": "전체 기록 조회", "en": "whole record"},
        "create": {"ko": "등록", "en": "create"},
        "update": {"ko": "수정", "en": "update"},
        "patch": {"ko": "수정", "en": "update"},
        "delete": {"ko": "삭제", "en": "delete"},
        "export": {"ko": "내보내기", "en": "export"},
        "access-log": {"ko": "접근 기록 조회", "en": "access log viewed"},
    },
    "purpose": {
        "TREAT": {"ko": "진료", "en": "treatment"},
        "ETREAT": {"ko": "응급 진료", "en": "emergency treatment"},
        "PATRQT": {"ko": "본인 요청", "en": "at the citizen's request"},
        "HRESCH": {"ko": "연구", "en": "research"},
        "HOPERAT": {"ko": "운영", "en": "operations"},
        "PUBHLTH": {"ko": "공중보건", "en": "public health"},
    },
    "outcome": {
        "allowed": {"ko": "허용", "en": "allowed"},
        "denied": {"ko": "거부", "en": "denied"},
    },
}


@dataclass(frozen=True, slots=True)
class AccessLogPage:
    patient: str
    entries: list[dict[str, Any]]
    next_before: int | None  # pass as ``before`` for the next (older) page


def read_access_log(
    records: Records, ctx: AccessContext, before: int | None, count: int, lang: str = "ko"
) -> AccessLogPage:
    patient = _own_patient(ctx)
    count = max(1, min(count, MAX_PAGE))
    with records.begin(ctx, "access-log") as rs:
        rs.audit.saw("Patient", patient)
        found = rs.s.access_log([patient], before, count)
    entries = [describe(orjson.loads(e.content), e.seq, ctx, lang) for e in found]
    next_before = found[-1].seq if len(found) == count else None
    return AccessLogPage(patient, entries, next_before)


def _own_patient(ctx: AccessContext) -> str:
    if str(ctx.role) not in _PERSONAL_ROLES or ctx.patient is None:
        raise Forbidden([Issue("forbidden", "the access log is for a citizen or guardian token")])
    if not ctx.can("AuditEvent", "r"):
        raise Forbidden([Issue("forbidden", "the token's scopes do not cover AuditEvent")])
    return ctx.patient


def describe(event: dict[str, Any], seq: int, ctx: AccessContext, lang: str) -> dict[str, Any]:
    agent = (event.get("agent") or [{}])[0]
    role = ((agent.get("role") or [{}])[0]).get("text", "service")
    subject = (agent.get("who") or {}).get("identifier", {}).get("value")
    shown_role = "other-citizen" if role == "citizen" and subject != ctx.subject else role
    action = ((event.get("subtype") or [{}])[0]).get("code", "")
    purpose = _code(event.get("purposeOfUse"))
    outcome = "allowed" if event.get("outcome") == "0" else "denied"
    return {
        "seq": seq,
        "recorded": event.get("recorded"),
        "who": {
            "role": shown_role,
            "roleLabel": _label("role", shown_role, lang),
            "organization": (agent.get("location") or {}).get("identifier", {}).get("value"),
            # staff are named by their account id; another citizen never is
            "id": subject if role not in _PERSONAL_ROLES or subject == ctx.subject else None,
            "you": subject == ctx.subject,
        },
        "action": action,
        "actionLabel": _label("action", action, lang),
        "purpose": purpose,
        "purposeLabel": _label("purpose", purpose, lang),
        "outcome": outcome,
        "outcomeLabel": _label("outcome", outcome, lang),
        "breakTheGlass": _break_glass(event),
        "resourceTypes": _types(event),
    }


def _code(concepts: Any) -> str:
    for concept in concepts or []:
        for coding in concept.get("coding") or []:
            return str(coding.get("code", ""))
    return ""


def _label(kind: str, code: str, lang: str) -> str:
    return LABELS[kind].get(code, {}).get(lang, code)


def _break_glass(event: dict[str, Any]) -> bool:
    labels = (event.get("meta") or {}).get("security") or []
    return any(label.get("code") == "BTG" for label in labels)


def _types(event: dict[str, Any]) -> list[str]:
    found = {
        ref.partition("/")[0]
        for entity in event.get("entity") or []
        if (ref := (entity.get("what") or {}).get("reference"))
        and (entity.get("role") or {}).get("code") != "1"  # the patient entity itself
    }
    return sorted(found)
