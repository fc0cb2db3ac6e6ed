"""Break-the-glass: emergency access to a record the citizen has not opened.

Who: an EMS crew, or a clinician whose token carries the emergency purpose (``ETREAT``: the
emergency department's staff).  How: with a stated reason (a code from ``REASONS`` and free
text), read-only, for a limited time (``DEFAULT_TTL_S``).  The grant is a row of the
``break_glass_grant`` table that the consent decision point honours for that subject and
patient until it expires; every access under it is flagged in the audit trail, and the
citizen gets a Communication about it.  Pattern: IHE PCF "deny all except break-glass", HIPAA
164.312(a)(2)(ii); Korean Medical Service Act art. 21-2 allows record transfer without consent
in emergencies.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from khealth.access.context import AccessContext, PurposeOfUse, Role
from khealth.core.errors import Forbidden, InvalidRequest, Issue

DEFAULT_TTL_S = 60 * 60
MAX_TTL_S = 4 * 60 * 60
MAX_REASON_TEXT = 500
REASON_SYSTEM = "urn:khealth:break-glass-reason"
#: code -> (Korean, English) label shown to the citizen
REASONS: dict[str, tuple[str, str]] = {
    "unconscious": ("의식 없음", "patient unconscious"),
    "life-threatening": ("생명 위협", "life-threatening condition"),
    "unable-to-consent": ("동의 불가", "patient unable to consent"),
    "mass-casualty": ("다수 사상자", "mass-casualty incident"),
    "other": ("기타", "other emergency"),
}


@dataclass(frozen=True, slots=True)
class BreakGlassGrant:
    id: str
    subject: str  # token subject of the crew member or clinician
    role: str
    patient: str
    reason_code: str
    reason_text: str
    created: int  # µs since the epoch
    expires: int  # µs; the grant is honoured while created <= now < expires

    def active(self, now: int) -> bool:
        return self.created <= now < self.expires


def may_break_glass(ctx: AccessContext) -> bool:
    return ctx.role == Role.EMS or (
        ctx.role == Role.CLINICIAN and ctx.purpose == PurposeOfUse.EMERGENCY
    )


def new_grant(
    ctx: AccessContext, patient: str, reason_code: str, reason_text: str, now: int,
    ttl_s: int = DEFAULT_TTL_S,
) -> BreakGlassGrant:  # fmt: skip
    """A grant for this caller, or Forbidden / InvalidRequest naming what is wrong."""
    if not may_break_glass(ctx):
        raise Forbidden(
            [Issue("forbidden", "only EMS crews and emergency clinicians may break the glass")]
        )
    if reason_code not in REASONS:
        raise InvalidRequest(
            [Issue("invalid", "unknown break-the-glass reason", ("reason_code",))], 422
        )
    text = reason_text.strip()
    if not text or len(text) > MAX_REASON_TEXT:
        raise InvalidRequest(
            [Issue("invalid", f"a reason text of 1 to {MAX_REASON_TEXT} characters is required",
                   ("reason_text",))]
        )  # fmt: skip
    if not patient or "/" in patient:
        raise InvalidRequest([Issue("invalid", "patient must be a Patient id", ("patient",))])
    ttl = max(60, min(ttl_s, MAX_TTL_S))
    return BreakGlassGrant(
        uuid.uuid4().hex, ctx.subject, str(ctx.role), patient, reason_code, text, now,
        now + ttl * 1_000_000,
    )  # fmt: skip


def notice(grant: BreakGlassGrant, sent: str) -> dict[str, Any]:
    """The Communication that tells the citizen (FHIR R4 Communication): who (role and
    subject id, never a name), why (the reason code) and until when."""
    ko, en = REASONS[grant.reason_code]
    return {
        "resourceType": "Communication",
        "meta": {"tag": [{"system": REASON_SYSTEM, "code": "break-glass"}]},
        "status": "completed",
        "category": [{"coding": [{"system": "urn:khealth:notification", "code": "break-glass",
                                  "display": "응급 열람 알림 (emergency access notice)"}]}],
        "priority": "urgent",
        "subject": {"reference": f"Patient/{grant.patient}"},
        "recipient": [{"reference": f"Patient/{grant.patient}"}],
        "sent": sent,
        "reasonCode": [{"coding": [{"system": REASON_SYSTEM, "code": grant.reason_code,
                                    "display": en}]}],
        "identifier": [{"system": "urn:khealth:break-glass-grant", "value": grant.id}],
        "payload": [{"contentString": (
            f"응급 상황으로 귀하의 의료기록이 열람되었습니다 ({ko}). 열람자: {grant.role} "
            f"{grant.subject}. / Your record was opened in an emergency ({en}) by "
            f"{grant.role} {grant.subject}."
        )}],
    }  # fmt: skip
