"""DICOM C-STORE SCP (PS3.4 Annex B, PS3.7 §9.1.1) and C-ECHO through pynetdicom, for
PACS and modalities that only push DIMSE (``khealth serve --dicom-port``).

Each received instance is stored exactly as STOW-RS stores it
(:meth:`khealth.imaging.stow.StudyStore.store_in_stream`): the dataset as it arrived on
the wire, with the File Meta Information of the association, is the Part 10 file kept in
the object store; its study becomes the same ImagingStudy on the matched Patient, with the
platform's Endpoint; QIDO-RS and WADO-RS find it.  A study's ImagingStudy is written once
for its first instance and once more when the association ends (or every
``refile_every`` instances), not once per instance.

Who stores: the listener has its own service identity, built here and never from what a
peer sends, as the MLLP feed has (``ingest.hl7v2.service.feed_context``):

* a calling AE title configured as a peer (``--dicom-peer AE=ORG``) stores as that
  facility's hospital system (``hospital-system`` role, the facility's Organization id):
  its PatientIDs are matched in the facility's record numbers and the ImagingStudy is held
  by the facility, exactly as with that hospital's STOW-RS token;
* with no peers configured any calling AE title is accepted and stores as the platform's
  ``dicom-store-scp`` service (like the HL7 v2 feed); with peers configured, other calling
  AE titles are rejected at association.

The answer is a DIMSE status with an ErrorComment (never a value from the file):
0x0000 stored; 0xA900 the dataset does not match the command's SOP class or instance, or
breaks a rule (a resident number as PatientID); 0xC000 not readable; 0x0110 no Patient or
another failure of processing; 0x0111 the SOP Instance UID is stored with other content;
0x0124 not authorised; 0xA700 storage unavailable (the sender keeps the instance and
retries).  No failure ends the association.

pynetdicom's own log is kept at WARNING: at INFO and below it writes dataset details.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog
from pydicom.dataset import Dataset
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, evt
from pynetdicom.presentation import AllStoragePresentationContexts
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]
from pynetdicom.transport import ThreadedAssociationServer

from khealth.access.context import AccessContext, PurposeOfUse, Role
from khealth.access.scopes import parse_scopes
from khealth.imaging import model
from khealth.imaging.dicom_files import UnreadableInstance, parse_instance
from khealth.imaging.service import Imaging
from khealth.imaging.stow import Stream

log = structlog.get_logger("khealth.dimse")

SUCCESS = 0x0000
OUT_OF_RESOURCES = 0xA700
SCP_SCOPES = "system/ImagingStudy.crus"
_AE_TITLE = re.compile(r"^[\x20-\x5b\x5d-\x7e]{1,16}$")  # PS3.5 AE VR: no backslash


def valid_ae_title(title: str) -> bool:
    return bool(_AE_TITLE.match(title)) and bool(title.strip())


def parse_peers(values: list[str]) -> dict[str, str]:
    """``AE=ORG`` pairs (``--dicom-peer``) as {calling AE title: facility Organization id}."""
    peers: dict[str, str] = {}
    for value in values:
        title, sep, facility = value.partition("=")
        title, facility = title.strip(), facility.strip()
        if not sep or not valid_ae_title(title) or not facility:
            raise ValueError(f"a DICOM peer is AE_TITLE=ORGANIZATION_ID, not {value!r}")
        peers[title] = facility
    return peers


@dataclass(frozen=True, slots=True)
class DimseSettings:
    host: str = "127.0.0.1"
    port: int = 11112
    ae_title: str = "KHEALTH"
    peers: Mapping[str, str] = field(default_factory=dict)  # calling AE title → facility
    endpoint_address: str = "http://127.0.0.1:8000/dicomweb"  # the DICOMweb base for Endpoint
    refile_every: int = 200  # a long association files its studies every this many instances
    max_pdu: int = 65536  # the largest P-DATA PDU a peer may send us (0: no limit)
    network_timeout: float = 60.0


def scp_context(calling_ae: str, peers: Mapping[str, str]) -> AccessContext:
    """The listener's identity for one association (see the module docstring)."""
    scopes = parse_scopes(SCP_SCOPES)
    facility = peers.get(calling_ae)
    if facility is not None:
        return AccessContext(f"dicom:{calling_ae}", Role.HOSPITAL_SYSTEM, scopes, facility=facility)  # fmt: skip
    return AccessContext("dicom-store-scp", Role.SERVICE, scopes, purpose=PurposeOfUse.OPERATIONS)  # fmt: skip


def status_dataset(status: int, comment: str | None = None) -> Dataset:
    answer = Dataset()
    answer.Status = status
    if comment:
        answer.ErrorComment = comment[:64]
    return answer


def outcome_status(outcome: model.StoreOutcome) -> Dataset:
    """The DIMSE status of a one-instance store: the failure reason codes of STOW-RS are
    C-STORE statuses already (PS3.4 B.2.3, PS3.7 C.4)."""
    if outcome.stored and not outcome.failed:
        return status_dataset(SUCCESS)
    if outcome.failed:
        failure = outcome.failed[0]
        return status_dataset(failure.code, failure.reason)
    return status_dataset(model.PROCESSING_FAILURE, "nothing was stored")


@dataclass(slots=True)
class _Association:
    ctx: AccessContext
    stream: Stream = field(default_factory=Stream)


class StoreScp:
    """The C-STORE/C-ECHO listener over an :class:`Imaging` service."""

    def __init__(self, imaging: Imaging, settings: DimseSettings) -> None:
        if not valid_ae_title(settings.ae_title):
            raise ValueError("the AE title is 1 to 16 characters, no backslash")
        self.imaging = imaging
        self.settings = settings
        self._associations: dict[int, _Association] = {}
        self._guard = threading.Lock()
        self._idle = threading.Condition(self._guard)
        self._busy = 0  # handlers running: stop() lets them finish
        self._server: ThreadedAssociationServer | None = None
        logging.getLogger("pynetdicom").setLevel(logging.WARNING)
        ae = AE(ae_title=settings.ae_title)
        ae.require_called_aet = True
        if settings.peers:
            ae.require_calling_aet = list(settings.peers)
        ae.maximum_pdu_size = settings.max_pdu
        ae.network_timeout = settings.network_timeout
        ae.maximum_associations = 32
        for context in AllStoragePresentationContexts:
            assert context.abstract_syntax is not None
            # Any transfer syntax: the file is kept as sent (rendering may not decode it).
            ae.add_supported_context(context.abstract_syntax, ALL_TRANSFER_SYNTAXES)
        ae.add_supported_context(Verification)
        self._ae = ae

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    def start(self) -> StoreScp:
        handlers: list[Any] = [
            (evt.EVT_C_ECHO, self._echo),
            (evt.EVT_C_STORE, self._store),
            (evt.EVT_CONN_CLOSE, self._closed),
        ]
        address = (self.settings.host, self.settings.port)
        self._server = self._ae.start_server(address, block=False, evt_handlers=handlers)
        log.info("dicom scp listening", host=self.settings.host, port=self.port,
                 ae_title=self.settings.ae_title, peers=len(self.settings.peers))  # fmt: skip
        return self

    def stop(self, wait: float = 30.0) -> None:
        """Stop listening; stores and filings under way finish first (up to ``wait``)."""
        if self._server is not None:
            self._server.shutdown()
            self._server = None
        with self._idle:
            self._idle.wait_for(lambda: self._busy == 0, wait)

    def _enter(self) -> None:
        with self._guard:
            self._busy += 1

    def _leave(self) -> None:
        with self._idle:
            self._busy -= 1
            self._idle.notify_all()

    # -- handlers (each in its association's thread) --------------------------------------
    def _echo(self, event: Any) -> int:
        return SUCCESS

    def _association(self, event: Any) -> _Association:
        key = id(event.assoc)
        with self._guard:
            found = self._associations.get(key)
            if found is None:
                calling = str(event.assoc.requestor.ae_title).strip()
                found = _Association(scp_context(calling, self.settings.peers))
                self._associations[key] = found
            return found

    def _store(self, event: Any) -> Dataset:
        self._enter()
        try:
            return self._stored(event)
        finally:
            self._leave()

    def _stored(self, event: Any) -> Dataset:
        try:
            association = self._association(event)
            data = event.encoded_dataset(include_meta=True)
            mismatch = _command_mismatch(event.request, data)
            if mismatch is not None:
                return mismatch
            outcome = self.imaging.stow.store_in_stream(
                association.ctx, data, self.settings.endpoint_address, association.stream
            )
            if association.stream.deferred >= self.settings.refile_every:
                self._file(association)
        except Exception as error:  # storage unavailable: refused, the sender retries
            log.error("dicom c-store failed", error=type(error).__name__)
            return status_dataset(OUT_OF_RESOURCES, "the instance could not be stored now; send it again")  # fmt: skip
        status = outcome_status(outcome)
        log.info("dicom c-store", status=f"0x{int(status.Status):04X}")
        return status

    def _closed(self, event: Any) -> None:
        with self._guard:
            association = self._associations.pop(id(event.assoc), None)
            if association is None or not association.stream.pending:
                return
            self._busy += 1
        try:
            self._file(association)
        finally:
            self._leave()

    def _file(self, association: _Association) -> None:
        try:
            failed = self.imaging.stow.file_pending(association.ctx, association.stream)
        except Exception as error:
            log.error("dicom imaging study update failed", error=type(error).__name__)
            return
        if failed:
            log.warning("dicom imaging study not updated; storing again repairs it", studies=len(failed))  # fmt: skip


def _command_mismatch(request: Any, data: bytes) -> Dataset | None:
    """The dataset must be the instance the C-STORE command names (PS3.4 B.2.3: 0xA900)."""
    try:
        parsed = parse_instance(data)
    except UnreadableInstance as error:
        return status_dataset(model.CANNOT_UNDERSTAND, str(error))
    if parsed.sop_class_uid != str(request.AffectedSOPClassUID):
        return status_dataset(model.DOES_NOT_MATCH, "the SOP Class UID differs from the command's")
    if parsed.sop_uid != str(request.AffectedSOPInstanceUID):
        return status_dataset(model.DOES_NOT_MATCH, "the SOP Instance UID differs from the command's")  # fmt: skip
    return None
