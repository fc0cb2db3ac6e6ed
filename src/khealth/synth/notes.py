"""Clinical notes in Korean (DocumentReference) that name the patient, phone and RRN.

The notes deliberately embed direct identifiers the way real free text does (header lines, a
guardian's contact, a resident number typed into the body) so that scrubbers have something real
to find. All of it is synthetic (see identifiers.py).
"""

from __future__ import annotations

import base64
from typing import Any

from khealth.synth import codes
from khealth.synth.clinical_resources import instant, ref
from khealth.synth.history import History
from khealth.synth.identifiers import make_mobile
from khealth.synth.names import choose_given_name, choose_surname
from khealth.synth.visits import Visit

NOTE_TYPES = {
    "progress": ("11506-3", "Progress note", "경과기록"),
    "history": ("34117-2", "History and physical note", "초진기록"),
    "discharge": ("18842-5", "Discharge summary", "퇴원요약지"),
    "emergency": ("34111-5", "Emergency department Note", "응급실 기록"),
}


def write_note(
    history: History,
    visit: Visit,
    kind: str,
    findings: list[str],
    plan: str,
    sensitive: str | None = None,
) -> None:
    citizen = history.citizen
    registration = history.registration(visit.facility)
    rng = history.rng
    loinc, display, title = NOTE_TYPES[kind]
    rrn = registration.rrn or "미상(신분증 미지참)"
    lines = [
        f"[{title}] {visit.facility.name} {visit.start.strftime('%Y-%m-%d %H:%M')}",
        f"환자: {registration.name} ({'여' if citizen.female else '남'}/{citizen.age_on(visit.day)}세)"
        f"  등록번호 {history.mrn(visit.facility)}",
        f"주민등록번호 {rrn}  연락처 {registration.mobile}",
        f"주소: {registration.address.text}",
    ]
    if rng.random() < 0.4:
        guardian = choose_surname(rng) + choose_given_name(
            rng, birth_year=1970, female=rng.random() < 0.6
        )
        relation = rng.choice(("배우자", "아들", "딸", "어머니", "아버지"))
        lines.append(f"보호자: {guardian}({relation}) {make_mobile(rng)}")
    lines += ["", "소견:", *[f"- {finding}" for finding in findings], "", f"계획: {plan}"]
    if rng.random() < 0.3:
        lines.append(
            f"※ {registration.name} 님께 {registration.mobile}로 결과 안내 문자 발송 예정."
        )
    text = "\n".join(lines)
    resource: dict[str, Any] = {"resourceType": "DocumentReference", "id": history.new_id()}
    if sensitive:
        resource["meta"] = {"security": [codes.coding(codes.V3_ACT_CODE, sensitive)]}
    resource |= {
        "status": "current",
        "docStatus": "final",
        "type": codes.concept(codes.LOINC, loinc, display, title),
        "subject": ref("Patient", visit.patient),
        "date": instant(visit.end),
        "author": [ref("PractitionerRole", visit.role)] if visit.role else [],
        "custodian": ref("Organization", visit.facility.id),
        "content": [
            {
                "attachment": {
                    "contentType": "text/plain; charset=utf-8",
                    "language": "ko",
                    "data": base64.b64encode(text.encode()).decode(),
                    "title": title,
                    "creation": instant(visit.end),
                }
            }
        ],
        "context": {
            "encounter": [ref("Encounter", visit.encounter_id)],
            "period": {"start": instant(visit.start), "end": instant(visit.end)},
        },
    }
    if not resource["author"]:
        del resource["author"]
    history.add(resource)
