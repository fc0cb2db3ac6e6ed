"""Immunisations (Korean National Immunization Program, seasonal influenza, COVID-19) and
allergies.

Childhood schedule: KDCA 표준예방접종일정표 (BCG, HepB, DTaP, IPV, Hib, PCV, MMR, varicella,
HepA, JE inactivated, Tdap, HPV for girls at 12); doses are recorded only when they fall inside
the history window. Influenza: free for children 6 months–13 years and adults 65+ (uptake ≈ 70 %
and ≈ 80 %), ≈ 25 % of other adults. COVID-19: primary series in 2021 for those 12+ (≈ 85 %),
booster ≈ 65 % of them. Allergies recorded for ≈ 7 % of people.
"""

from __future__ import annotations

import datetime as dt

from khealth.synth import codes
from khealth.synth.clinical_resources import instant, ref
from khealth.synth.facilities import Facility
from khealth.synth.history import History

# (age in months, CVX code, display)
CHILD_SCHEDULE: tuple[tuple[int, str, str], ...] = (
    (0, "19", "BCG"),
    (0, "08", "Hep B, adolescent or pediatric"),
    (1, "08", "Hep B, adolescent or pediatric"),
    (2, "20", "DTaP"),
    (2, "10", "IPV"),
    (2, "17", "Hib, unspecified formulation"),
    (2, "133", "PCV13"),
    (4, "20", "DTaP"),
    (4, "10", "IPV"),
    (4, "17", "Hib, unspecified formulation"),
    (4, "133", "PCV13"),
    (6, "20", "DTaP"),
    (6, "10", "IPV"),
    (6, "08", "Hep B, adolescent or pediatric"),
    (6, "133", "PCV13"),
    (12, "03", "MMR"),
    (12, "21", "varicella"),
    (12, "83", "Hep A, ped/adol, 2 dose"),
    (12, "17", "Hib, unspecified formulation"),
    (12, "133", "PCV13"),
    (13, "134", "Japanese Encephalitis IM"),
    (15, "20", "DTaP"),
    (18, "83", "Hep A, ped/adol, 2 dose"),
    (24, "134", "Japanese Encephalitis IM"),
    (48, "20", "DTaP"),
    (48, "10", "IPV"),
    (48, "03", "MMR"),
    (72, "134", "Japanese Encephalitis IM"),
    (132, "115", "Tdap"),
)
_COVID = (
    ("208", "COVID-19, mRNA, LNP-S, PF, 30 mcg/0.3 mL dose"),
    ("207", "COVID-19, mRNA, LNP-S, PF, 100 mcg/0.5mL dose or 50 mcg/0.25mL dose"),
    ("210", "COVID-19 vaccine, vector-nr, rS-ChAdOx1, PF, 0.5 mL"),
)


def _vaccinate(history: History, facility: Facility, day: dt.date, cvx: str, display: str) -> None:
    if not history.start <= day < history.end:
        return
    patient = history.patient_at(facility)
    doctor = facility.doctor_for(facility.departments[0], history.rng)
    history.add(
        {
            "resourceType": "Immunization",
            "id": history.new_id(),
            "status": "completed",
            "vaccineCode": codes.concept(codes.CVX, cvx, display),
            "patient": ref("Patient", patient),
            "occurrenceDateTime": instant(history.at(day)),
            "primarySource": True,
            "location": ref("Location", f"{facility.id}-loc"),
            "lotNumber": f"{cvx}{history.rng.randint(10000, 99999)}K",
            "performer": [{"actor": ref("PractitionerRole", f"{doctor.id}-role")}],
        }
    )


def immunisations(history: History) -> None:
    citizen, rng = history.citizen, history.rng
    district = citizen.address.district
    paediatric = history.usual_clinic("11")
    public = history.facilities.health_centre[district.code]
    for months, cvx, display in CHILD_SCHEDULE:
        day = citizen.birth_date + dt.timedelta(days=int(months * 30.44) + rng.randint(0, 20))
        _vaccinate(history, public if rng.random() < 0.2 else paediatric, day, cvx, display)
    if citizen.female:
        _vaccinate(
            history,
            paediatric,
            citizen.birth_date + dt.timedelta(days=12 * 365 + 40),
            "165",
            "HPV9",
        )
    _influenza(history, paediatric, public)
    _covid(history, public)


def _influenza(history: History, paediatric: Facility, public: Facility) -> None:
    citizen, rng = history.citizen, history.rng
    adult_clinic: Facility | None = None
    for year in range(history.start.year, history.end.year + 1):
        day = dt.date(year, 10, 1) + dt.timedelta(days=rng.randint(0, 50))
        age = citizen.age_on(day)
        uptake = 0.7 if age <= 13 else 0.8 if age >= 65 else 0.25
        if (day - citizen.birth_date).days < 183 or rng.random() > uptake:
            continue
        if age <= 13:
            facility = paediatric
        elif age >= 65 and rng.random() < 0.4:
            facility = public
        else:
            adult_clinic = adult_clinic or history.usual_clinic("01")
            facility = adult_clinic
        _vaccinate(
            history, facility, day, "150", "Influenza, injectable, quadrivalent, preservative free"
        )


def _covid(history: History, public: Facility) -> None:
    citizen, rng = history.citizen, history.rng
    first = dt.date(2021, 3, 1) + dt.timedelta(days=rng.randint(0, 240))
    if citizen.age_on(first) < 12 or rng.random() > 0.85:
        return
    cvx, display = (
        _COVID[0] if rng.random() < 0.6 else _COVID[1] if rng.random() < 0.6 else _COVID[2]
    )
    facility = public if rng.random() < 0.3 else history.usual_clinic("01")
    _vaccinate(history, facility, first, cvx, display)
    _vaccinate(history, facility, first + dt.timedelta(days=rng.randint(21, 84)), cvx, display)
    if rng.random() < 0.65:
        booster = max(first + dt.timedelta(days=150), dt.date(2021, 11, 15))
        _vaccinate(history, facility, booster + dt.timedelta(days=rng.randint(0, 90)), *_COVID[0])


# (category, SNOMED code or "", display, Korean text, reaction)
_ALLERGENS = (
    (
        "medication",
        "373270004",
        "Penicillin -class of antibiotic- (substance)",
        "페니실린계 항생제",
        "두드러기",
    ),
    ("medication", "387458008", "Aspirin (substance)", "아스피린", "호흡곤란"),
    ("medication", "387207008", "Ibuprofen (substance)", "이부프로펜", "두드러기"),
    ("medication", "", "", "요오드화 조영제", "가려움, 발진"),
    ("medication", "387406002", "Sulfonamide (substance)", "설폰아마이드", "발진"),
    ("food", "", "", "메밀", "입술 부종"),
    ("food", "", "", "갑각류(새우, 게)", "두드러기"),
    ("food", "", "", "땅콩", "아나필락시스"),
    ("food", "3718001", "Cow's milk (substance)", "우유", "복통"),
    ("food", "102263004", "Eggs (edible) (substance)", "달걀", "발진"),
)


def allergies(history: History) -> None:
    rng = history.rng
    if rng.random() > 0.07 or not history.registered:
        return
    facility_id = sorted(history.registered)[0]
    facility = history.facilities.by_id[facility_id]
    category, snomed, display, text, reaction = rng.choice(_ALLERGENS)
    code = codes.concept(codes.SNOMED, snomed, display, text) if snomed else {"text": text}
    history.add(
        {
            "resourceType": "AllergyIntolerance",
            "id": history.new_id(),
            "clinicalStatus": {"coding": [codes.coding(codes.ALLERGY_CLINICAL, "active")]},
            "verificationStatus": {
                "coding": [codes.coding(codes.ALLERGY_VERIFICATION, "confirmed")]
            },
            "type": "allergy",
            "category": [category],
            "criticality": "high" if reaction in ("아나필락시스", "호흡곤란") else "low",
            "code": code,
            "patient": ref("Patient", history.patient_at(facility)),
            "recordedDate": history.random_day().isoformat(),
            "reaction": [
                {
                    "manifestation": [{"text": reaction}],
                    "severity": "severe" if reaction == "아나필락시스" else "mild",
                }
            ],
        }
    )
