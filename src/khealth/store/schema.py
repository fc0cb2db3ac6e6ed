"""The tables: current resources, every version, typed search-index rows, compartments,
and the audit log.  Index rows carry the resource type so that an index on
(type, param, value) answers a search without touching other types.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

ID = String(64)
TYPE = String(64)
PARAM = String(100)

resource = Table(
    "resource",
    metadata,
    Column(
        "pk", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("type", TYPE, nullable=False),
    Column("id", ID, nullable=False),
    Column("version", Integer, nullable=False),
    Column("last_updated", BigInteger, nullable=False),
    Column("deleted", Boolean, nullable=False),
    Column("content", LargeBinary, nullable=False),
    UniqueConstraint("type", "id", name="uq_resource_type_id"),
    Index("ix_resource_type_updated", "type", "last_updated"),
)

resource_version = Table(
    "resource_version",
    metadata,
    Column("type", TYPE, primary_key=True),
    Column("id", ID, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("last_updated", BigInteger, nullable=False),
    Column("deleted", Boolean, nullable=False),
    Column("method", String(8), nullable=False),
    Column("content", LargeBinary, nullable=False),
    Index("ix_resource_version_updated", "last_updated"),
    Index("ix_resource_version_type_updated", "type", "last_updated"),
)

compartment = Table(
    "compartment",
    metadata,
    Column("res_pk", BigInteger, primary_key=True),
    Column("patient_id", ID, primary_key=True),
    Index("ix_compartment_patient", "patient_id", "res_pk"),
)


def _index_table(
    name: str, *columns: Column[object], indexes: tuple[tuple[str, ...], ...]
) -> Table:
    return Table(
        name,
        metadata,
        Column("res_pk", BigInteger, nullable=False),
        Column("type", TYPE, nullable=False),
        Column("param", PARAM, nullable=False),
        *columns,
        Index(f"ix_{name}_res", "res_pk"),
        # res_pk last makes each value index covering: a search reads matching resource
        # keys from the index alone, in key order (docs/benchmarks.md).
        *(
            Index(f"ix_{name}_{'_'.join(cols)}", "type", "param", *cols, "res_pk")
            for cols in indexes
        ),
    )


sp_token = _index_table(
    "sp_token",
    Column("system", Text),
    Column("code", Text),
    Column("text", Text),
    indexes=(("code", "system"),),
)
sp_string = _index_table(
    "sp_string", Column("value", Text, nullable=False), Column("exact", Text, nullable=False),
    indexes=(("value",),),
)  # fmt: skip
sp_date = _index_table(
    "sp_date", Column("low", BigInteger, nullable=False), Column("high", BigInteger, nullable=False),
    indexes=(("low", "high"),),
)  # fmt: skip
sp_number = _index_table(
    "sp_number",
    Column("value", Float, nullable=False),
    Column("low", Float, nullable=False),
    Column("high", Float, nullable=False),
    indexes=(("value",),),
)
sp_quantity = _index_table(
    "sp_quantity",
    Column("value", Float),  # NULL for a Range: low and high are then its ends
    Column("low", Float, nullable=False),
    Column("high", Float, nullable=False),
    Column("system", Text),
    Column("code", Text),
    Column("unit", Text),
    indexes=(("code", "value"),),
)
sp_uri = _index_table("sp_uri", Column("value", Text, nullable=False), indexes=(("value",),))
sp_reference = _index_table(
    "sp_reference",
    Column("target_type", TYPE),
    Column("target_id", ID),
    Column("url", Text),
    Column("identifier_system", Text),
    Column("identifier_value", Text),
    indexes=(("target_id", "target_type"),),
)
Index("ix_sp_reference_target", sp_reference.c.target_type, sp_reference.c.target_id)


def _component_columns(n: int) -> list[Column[object]]:
    return [
        Column(f"c{n}_system", Text),
        Column(f"c{n}_code", Text),
        Column(f"c{n}_value", Float),
        Column(f"c{n}_low", Float),
        Column(f"c{n}_high", Float),
        Column(f"c{n}_text", Text),
    ]


sp_composite = _index_table(
    "sp_composite", *_component_columns(1), *_component_columns(2), *_component_columns(3),
    indexes=(("c1_code",),),
)  # fmt: skip

audit_log = Table(
    "audit_log",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("recorded", BigInteger, nullable=False),
    Column("content", LargeBinary, nullable=False),
    # issue 5: the hash chain (records/audit_chain.py); append-only by triggers
    Column("prev_hash", LargeBinary, nullable=False),
    Column("entry_hash", LargeBinary, nullable=False),
)

#: Resumable jobs (bulk import files, exports): what is done so far.
job = Table(
    "job",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("state", String(16), nullable=False),
    Column("created", BigInteger, nullable=False),
    Column("updated", BigInteger, nullable=False),
    Column("detail", LargeBinary, nullable=False),
)

# -- emergency (issue 6): live ER capacity and the pre-notification workflow -------------
# Not clinical record: capacity snapshots and workflow time stamps (the clinical content of a
# pre-notification is in its FHIR Encounter and ServiceRequest).

#: Every live-status snapshot a facility sends (history kept; the newest is the status).
er_status = Table(
    "er_status",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("facility_id", ID, nullable=False),
    Column("observed", BigInteger, nullable=False),  # hvidate, µs
    Column("recorded", BigInteger, nullable=False),
    Column("content", LargeBinary, nullable=False),
    Index("ix_er_status_facility", "facility_id", "observed", "seq"),
)

#: One pre-notification of one facility for one incident, with its current state.
er_notification = Table(
    "er_notification",
    metadata,
    Column("id", ID, primary_key=True),
    Column("incident_id", ID, nullable=False),
    Column("facility_id", ID, nullable=False),
    Column("state", String(16), nullable=False),
    Column("created", BigInteger, nullable=False),
    Column("updated", BigInteger, nullable=False),
    Column("encounter_id", ID, nullable=False),
    Column("service_request_id", ID, nullable=False),
    Column("patient_id", ID, nullable=False),
    Column("eta_minutes", Float, nullable=False),
    Column("detail", LargeBinary, nullable=False),
    Index("ix_er_notification_facility", "facility_id", "state"),
    Index("ix_er_notification_incident", "incident_id"),
)

#: Every time-stamped step of a pre-notification; declines feed ranking.
er_notification_event = Table(
    "er_notification_event",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("notification_id", ID, nullable=False),
    Column("incident_id", ID, nullable=False),
    Column("facility_id", ID, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("reason", String(32)),
    Index("ix_er_notification_event_facility", "facility_id", "seq"),
    Index("ix_er_notification_event_kind_at", "kind", "at"),
)

INDEX_TABLES = {
    "token": sp_token,
    "string": sp_string,
    "date": sp_date,
    "number": sp_number,
    "quantity": sp_quantity,
    "uri": sp_uri,
    "reference": sp_reference,
    "composite": sp_composite,
}

# -- HL7 v2 feed (issue 4): applied control ids and dead letters -------------------------
# Not clinical record: which message was applied when (written in the same transaction as
# the message's resources, so a resent message is not applied twice), and the refused
# messages, sealed, for operators to list and replay.

#: One row per applied message (facility, MSH-10); also the feed-health volume and lag.
hl7_message = Table(
    "hl7_message",
    metadata,
    Column("facility", ID, primary_key=True),
    Column("control_id", ID, primary_key=True),
    Column("message_type", String(16), nullable=False),
    Column("received", BigInteger, nullable=False),
    Column("message_time", BigInteger),  # MSH-7, µs; NULL when absent or unreadable
    Column("sha256", String(64), nullable=False),
    Index("ix_hl7_message_received", "received"),
    Index("ix_hl7_message_facility_received", "facility", "received"),
)

#: Refused messages (AE/AR): where and why, the message sealed (AES-GCM, key outside the DB).
hl7_dead_letter = Table(
    "hl7_dead_letter",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("received", BigInteger, nullable=False),
    Column("facility", ID, nullable=False),
    Column("message_type", String(16), nullable=False),
    Column("control_id", ID, nullable=False),
    Column("ack_code", String(2), nullable=False),
    Column("error", Text, nullable=False),
    Column("sealed", LargeBinary, nullable=False),
    Column("state", String(16), nullable=False),
    Column("updated", BigInteger, nullable=False),
    Index("ix_hl7_dead_letter_received", "received"),
    Index("ix_hl7_dead_letter_facility_received", "facility", "received"),
)

# -- trust layer (issue 5): break-the-glass grants ---------------------------------------
#: One row per break-the-glass: who opened whose record, why, until when.  Not clinical
#: record; read by the consent decision point in the reading transaction.
break_glass_grant = Table(
    "break_glass_grant",
    metadata,
    Column("id", ID, primary_key=True),
    Column("subject", ID, nullable=False),
    Column("role", String(32), nullable=False),
    Column("patient_id", ID, nullable=False),
    Column("reason_code", String(32), nullable=False),
    Column("reason_text", Text, nullable=False),
    Column("created", BigInteger, nullable=False),
    Column("expires", BigInteger, nullable=False),
    Index("ix_break_glass_grant_subject_patient", "subject", "patient_id", "expires"),
    Index("ix_break_glass_grant_patient", "patient_id", "created"),
)

# -- imaging (issue 4): the DICOM index of DICOMweb ---------------------------------------
# Derived, rebuildable from the object store: the attributes QIDO-RS matches and returns,
# where each instance's file is (its SHA-256 in the object store), and the ImagingStudy and
# Patient each study is filed under (the clinical record is the ImagingStudy).
UID = String(64)  # DICOM UI values are at most 64 characters

#: One row per study.
dicom_study = Table(
    "dicom_study",
    metadata,
    Column("study_uid", UID, primary_key=True),
    Column("patient_id", ID, nullable=False),
    Column("imaging_study_id", ID, nullable=False),
    Column("study_date", String(8), nullable=False),
    Column("accession_number", String(64), nullable=False),
    Column("dicom_patient_id", String(64), nullable=False),
    Column("attrs", LargeBinary, nullable=False),
    Column("updated", BigInteger, nullable=False),
    Index("ix_dicom_study_patient", "patient_id", "study_date"),
    Index("ix_dicom_study_dicom_patient", "dicom_patient_id"),
    Index("ix_dicom_study_date", "study_date"),
    Index("ix_dicom_study_accession", "accession_number"),
)

#: One row per series.
dicom_series = Table(
    "dicom_series",
    metadata,
    Column("series_uid", UID, primary_key=True),
    Column("study_uid", UID, nullable=False),
    Column("modality", String(16), nullable=False),
    Column("series_number", Integer),
    Column("attrs", LargeBinary, nullable=False),
    Index("ix_dicom_series_study", "study_uid"),
    Index("ix_dicom_series_modality", "modality", "study_uid"),
)

#: One row per SOP instance, naming its file in the object store.
dicom_instance = Table(
    "dicom_instance",
    metadata,
    Column("sop_uid", UID, primary_key=True),
    Column("study_uid", UID, nullable=False),
    Column("series_uid", UID, nullable=False),
    Column("sop_class_uid", UID, nullable=False),
    Column("instance_number", Integer),
    Column("transfer_syntax", UID, nullable=False),
    Column("frames", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("attrs", LargeBinary, nullable=False),
    Column("stored", BigInteger, nullable=False),
    Index("ix_dicom_instance_study", "study_uid", "series_uid", "instance_number"),
)

# -- authorisation server and sign-in (issue 5 parts 1-2; khealth.auth, docs/auth.md) ------
# Not clinical record.  Secrets (codes, refresh tokens, session ids) are stored as SHA-256
# hashes; a citizen's CI only as a keyed hash; timestamps are seconds since the epoch.
auth_client = Table(
    "auth_client",
    metadata,
    Column("client_id", ID, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("redirect_uris", Text, nullable=False),  # JSON array
    Column("scope", Text, nullable=False),
    Column("jwks", Text),
    Column("role", String(32), nullable=False),
    Column("facility", ID),
    Column("created", BigInteger, nullable=False),
)

auth_grant = Table(
    "auth_grant",
    metadata,
    Column("id", ID, primary_key=True),
    Column("client_id", ID, nullable=False),
    Column("subject", ID, nullable=False),
    Column("role", String(32), nullable=False),
    Column("scope", Text, nullable=False),
    Column("patient", ID),
    Column("facility", ID),
    Column("created", BigInteger, nullable=False),
    Column("revoked", BigInteger),
    Index("ix_auth_grant_subject", "subject", "client_id"),
)

auth_code = Table(
    "auth_code",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("grant_id", ID, nullable=False),
    Column("client_id", ID, nullable=False),
    Column("redirect_uri", Text, nullable=False),
    Column("code_challenge", String(64), nullable=False),
    Column("nonce", String(256)),
    Column("expires", BigInteger, nullable=False),
    Column("used", Boolean, nullable=False),
)

auth_refresh_token = Table(
    "auth_refresh_token",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("grant_id", ID, nullable=False),
    Column("created", BigInteger, nullable=False),
    Column("expires", BigInteger, nullable=False),
    Column("used", BigInteger),
    Index("ix_auth_refresh_token_grant", "grant_id"),
)

#: Access tokens revoked one by one (RFC 7009), kept until they would have expired; and
#: client-assertion jti values seen (replay), kept likewise.  ``kind`` tells them apart.
auth_seen_jti = Table(
    "auth_seen_jti",
    metadata,
    Column("kind", String(16), primary_key=True),
    Column("jti", String(200), primary_key=True),
    Column("expires", BigInteger, nullable=False),
)

auth_account = Table(
    "auth_account",
    metadata,
    Column("id", ID, primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("role", String(32), nullable=False),
    Column("username", String(64), unique=True),
    Column("password_hash", String(200)),
    Column("totp_secret", String(64)),
    Column("totp_confirmed", Boolean, nullable=False),
    Column("totp_last_step", BigInteger, nullable=False),
    Column("facility", ID),
    Column("ci_hash", String(64), unique=True),
    Column("fhir_user", String(200)),
    Column("created", BigInteger, nullable=False),
    Column("disabled", Boolean, nullable=False),
)

#: Whom an account may act for: its own Patient records (self) and dependants (guardian).
auth_patient_link = Table(
    "auth_patient_link",
    metadata,
    Column("account_id", ID, primary_key=True),
    Column("patient_id", ID, primary_key=True),
    Column("relationship", String(16), nullable=False),
)

auth_session = Table(
    "auth_session",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("csrf", String(64), nullable=False),
    Column("created", BigInteger, nullable=False),
    Column("last_seen", BigInteger, nullable=False),
    Column("account_id", ID),
    Column("stage", String(16), nullable=False),
    Column("data", Text, nullable=False),  # JSON object
)

auth_verification = Table(
    "auth_verification",
    metadata,
    Column("id", ID, primary_key=True),
    Column("code_hash", String(64), nullable=False),
    Column("created", BigInteger, nullable=False),
    Column("expires", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("detail", Text, nullable=False),  # JSON; deleted on use
)

#: The development SMS outbox of the identity verification stand-in (KHEALTH_DEV_MODE only).
auth_sms_outbox = Table(
    "auth_sms_outbox",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("created", BigInteger, nullable=False),
    Column("recipient", String(32), nullable=False),
    Column("body", Text, nullable=False),
)

# -- trust layer (issue 5): signed audit checkpoints and the citizen's access-log index ----
#: One row per signed checkpoint over audit_log entries first_seq..seq (docs/security.md).
audit_checkpoint = Table(
    "audit_checkpoint",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("first_seq", BigInteger, nullable=False),
    Column("recorded", BigInteger, nullable=False),
    Column("head_hash", LargeBinary, nullable=False),
    Column("merkle_root", LargeBinary, nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("signature", LargeBinary, nullable=False),
)

#: The patients whose compartment an audit entry touched: "who accessed my record".
audit_patient = Table(
    "audit_patient",
    metadata,
    Column("patient_id", ID, primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
)
