"""Synthetic HL7 v2 messages for the feed tests (no real person: names and numbers are made
up; the resident number is shaped like one but belongs to nobody)."""

from __future__ import annotations

RRN = "900101-1234567"
RRN_DIGITS = RRN.replace("-", "")


def msh(event: str, control_id: str, *, facility: str = "GJH^1.2.410.200.1^ISO",
        version: str = "2.5.1", charset: str = "UNICODE UTF-8",
        when: str = "20261129091500+0900") -> str:  # fmt: skip
    structure = {"R01": "ORU_R01", "O11": "RDE_O11"}.get(event, "ADT_A01")
    kind = {"R01": "ORU", "O11": "RDE"}.get(event, "ADT")
    return (
        f"MSH|^~\\&|EMR|{facility}|KHEALTH|GWANGJU|{when}||{kind}^{event}^{structure}|"
        f"{control_id}|P|{version}|||AL|NE|KOR|{charset}"
    )


def pid(mrn: str = "MRN001", *, name: str = "홍^길동", rrn: str = RRN, sex: str = "M") -> str:
    return (
        f"PID|1||{mrn}^^^GJH^MR~{rrn}^^^KR^NI||{name}^^^^^L||19900101|{sex}|||"
        "금남로 1^101동^광주^광주광역시^61475^KOR^H||062-123-4567^PRN^PH~010-1234-5678^PRN^CP"
    )


def adt(event: str, control_id: str, *, mrn: str = "MRN001", visit: str = "V100",
        patient_class: str = "I", discharge: str = "", name: str = "홍^길동") -> bytes:  # fmt: skip
    segments = [
        msh(event, control_id),
        f"EVN|{event}|20261129091500+0900",
        pid(mrn, name=name),
        f"PV1|1|{patient_class}|W3^301^2^GJH||||D100^김^의사^^^Dr|||MED||||||||"
        f"|{visit}^^^GJH^VN|||||||||||||||||||||||||20261129080000+0900|{discharge}",
    ]
    return ("\r".join(segments) + "\r").encode("utf-8")


def merge(control_id: str, survivor: str, old: str) -> bytes:
    segments = [msh("A40", control_id), "EVN|A40|20261129091500+0900", pid(survivor),
                f"MRG|{old}^^^GJH^MR"]  # fmt: skip
    return ("\r".join(segments) + "\r").encode("utf-8")


def oru(control_id: str, *, mrn: str = "MRN001", glucose: str = "182") -> bytes:
    segments = [
        msh("R01", control_id),
        pid(mrn),
        "OBR|1|P100^EMR|F200^LAB|24331-1^Lipid panel^LN|||20261129070000+0900||||||||||||||||"
        "20261129083000+0900||CH|F",
        f"OBX|1|NM|2345-7^Glucose^LN||{glucose}|mg/dL^^UCUM|70-105|H|||F|||20261129070000+0900",
        "NTE|1||fasting 12 hours",
        "OBX|2|ST|8251-1^Service comment^LN||hemolysed \\T\\ repeated||||||F",
        "OBX|3|CWE|600-7^Blood culture^LN||112283007^E. coli^SCT||||||C",
        "OBX|4|SN|2160-0^Creatinine^LN||<^0.5|mg/dL^^UCUM|0.6-1.2|L|||P",
        "OBX|5|SN|5048-4^ANA titer^LN||^1^:^128||||||F",
        "OBX|6|DT|11778-8^Delivery date^LN||20270301||||||F",
        "OBX|7|SN|1751-7^Albumin^LN||^3.5^-^5.0|g/dL^^UCUM||||F",
    ]
    return ("\r".join(segments) + "\r").encode("utf-8")


def rde(control_id: str, *, mrn: str = "MRN001") -> bytes:
    segments = [
        msh("O11", control_id),
        pid(mrn),
        "ORC|NW|ORD777^EMR|||||||20261129100000+0900|||D100^김^의사^^^Dr",
        "RXE|^BID^^20261129|642040490^Metformin 500 mg tablet^KDC|500||mg^milligram^UCUM|TAB|"
        "take with meals|||60|TAB^tablet|2",
        "RXR|PO^Oral^HL70162",
    ]
    return ("\r".join(segments) + "\r").encode("utf-8")
