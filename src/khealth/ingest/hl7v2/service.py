"""The HL7 v2 feed's use case: messages in, ACKs out, resources written through the
record service.

``handle_many`` commits a group of messages in ONE record session (group commit: a
durable commit costs one sync however many messages ride in it) and answers AA for each
only after that commit returned.  Parsing and mapping are pure and happen first, so a bad
message is refused (AE/AR) before any transaction.  In the transaction the group's
control ids are checked in one query, the identifiers its messages are keyed by are
looked up in one search per resource type, and each message is applied as a transaction
of its own (``records.conditional_group``): one whose resources the record service
refuses gets its AE and leaves nothing behind while the others commit.  Should the
group's transaction fail as a whole (a concurrent writer, a denial, an A40 merge that
cannot be applied), each message is retried in a transaction of its own.  A storage
failure that is not about the content (database down) raises: the listener then sends
no ACK and the sender will resend.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from khealth.access.context import AccessContext, PurposeOfUse, Role
from khealth.access.scopes import parse_scopes
from khealth.core.errors import Forbidden, KhealthError
from khealth.ingest.hl7v2.ack import build_ack
from khealth.ingest.hl7v2.errors import Hl7Error
from khealth.ingest.hl7v2.facilities import FacilityDirectory, stamp
from khealth.ingest.hl7v2.mapping import facility_key, map_message
from khealth.ingest.hl7v2.message import Message, parse
from khealth.ingest.hl7v2.model import DeadLetter, Header, Mapped, Merge, ProcessedMessage
from khealth.ingest.hl7v2.ports import FeedLedger
from khealth.ingest.hl7v2.sealing import Sealer
from khealth.records.bundles import TransactionRunner, parse_entries
from khealth.records.clock import Clock, SystemClock
from khealth.records.conditional_group import ConditionalGroup, StagedWritesFailed
from khealth.records.service import Records, RecordSession, load_json

FEED_SCOPES = "system/Patient.cruds system/Encounter.cruds system/Observation.cruds " \
              "system/DiagnosticReport.cruds system/MedicationRequest.cruds " \
              "system/Provenance.cruds system/Organization.rs"  # fmt: skip
_ENTRY = re.compile(r"Bundle\.entry\[(\d+)\]")


def feed_context() -> AccessContext:
    """The feed's own service identity: it writes what hospitals send, nothing else."""
    return AccessContext("hl7v2-feed", Role.SERVICE, parse_scopes(FEED_SCOPES),
                         purpose=PurposeOfUse.OPERATIONS)  # fmt: skip


FEED_CONTEXT = feed_context()


@dataclass(slots=True)
class Prepared:
    """A message parsed and mapped (or refused), waiting for its group's commit."""

    raw: bytes
    message: Message | None
    mapped: Mapped | None = None
    error: Hl7Error | None = None
    ack: bytes = b""


class Hl7Feed:
    def __init__(
        self, records: Records, ledger: FeedLedger, rrn_key: bytes, sealer: Sealer,
        clock: Clock | None = None,
    ) -> None:  # fmt: skip
        self.records = records
        self.ledger = ledger
        self.rrn_key = rrn_key
        self.sealer = sealer
        self.clock: Clock = clock or SystemClock()
        self.directory = FacilityDirectory(self.clock)

    def handle(self, raw: bytes) -> bytes:
        return self.handle_many([raw])[0]

    def handle_many(self, raws: Sequence[bytes]) -> list[bytes]:
        """One ACK per message, in order; every AA is durable when this returns."""
        received = self.clock.now_us()
        return self.commit([self.prepare(raw, received) for raw in raws], received)

    def prepare(self, raw: bytes, received: int | None = None) -> Prepared:
        """Parse and map one message (pure: no storage), ready for ``commit``; the
        listener does this as each frame arrives, while the previous group commits."""
        return self._prepare(raw, self.clock.now_us() if received is None else received)

    def commit(self, prepared: Sequence[Prepared], received: int | None = None) -> list[bytes]:
        """Apply prepared messages in one transaction; their ACKs, in order."""
        received = self.clock.now_us() if received is None else received
        pending = list(prepared)
        ready = [p for p in pending if p.mapped is not None]
        try:
            self._commit(ready, received)
        except KhealthError:
            for p in ready:  # find the message at fault; the others commit alone
                try:
                    self._commit([p], received)
                except KhealthError as error:
                    p.error = _storage_error(p, error)
        for p in pending:
            if p.error is not None:
                p.ack = build_ack(p.message, p.error.ack, p.error)
                self._dead_letter(p, received)
        return [p.ack for p in pending]

    def replay(self, letter_id: int) -> tuple[bool, bytes]:
        """Run a dead letter again; on success it is marked replayed, else its error is
        updated (no second letter is made)."""
        letter = self.ledger.dead_letter(letter_id)
        if letter is None:
            raise KeyError(letter_id)
        received = self.clock.now_us()
        p = self._prepare(self.sealer.open(letter.sealed), received)
        if p.mapped is not None:
            try:
                self._commit([p], received)
            except KhealthError as error:
                p.error = _storage_error(p, error)
        if p.error is None:
            self.ledger.update_dead_letter(letter_id, "replayed", letter.error, received)
            return True, p.ack
        self.ledger.update_dead_letter(letter_id, "new", _describe(p.error), received)
        return False, build_ack(p.message, p.error.ack, p.error)

    # -- steps -----------------------------------------------------------------------
    def _prepare(self, raw: bytes, received: int) -> Prepared:
        try:
            message = parse(raw)
        except Hl7Error as error:
            return Prepared(raw, None, error=error)
        p = Prepared(raw, message)
        try:
            p.mapped = map_message(message, raw, self.rrn_key, received)
        except Hl7Error as error:
            p.error = error
        except Exception:  # a mapping bug: refuse this message, keep the listener alive
            p.error = Hl7Error("AE", "MSH", 1, 0, "207", "the message could not be mapped")
        return p

    def _commit(self, batch: list[Prepared], received: int) -> None:
        """Apply the batch in one transaction; sets each message's ACK (AA, also for a
        repeat) or its error, only once the transaction has committed."""
        if not batch:
            return
        errors: dict[int, Hl7Error] = {}
        with self.records.begin(FEED_CONTEXT, "hl7v2") as rs:
            holders = self.directory.holders(rs, (p.mapped.header for p in batch if p.mapped))
            for p in batch:
                holder = holders[_key(p)[0]]
                if holder is not None:
                    assert p.mapped is not None
                    stamp(p.mapped, holder)
            try:
                applied = self._apply_group(rs, batch, errors)
            except StagedWritesFailed as failed:
                raise failed.error from None  # each message is retried alone
            self.ledger.record_many(rs.s, [
                ProcessedMessage(h.facility, h.control_id, h.message_type, received,
                                 h.message_time, h.sha256) for h in applied
            ])  # fmt: skip
        for i, p in enumerate(batch):
            p.error = errors.get(i)
            p.ack = build_ack(p.message, "AA") if p.error is None else b""

    def _apply_group(
        self, rs: RecordSession, batch: list[Prepared], errors: dict[int, Hl7Error]
    ) -> list[Header]:
        """Apply each message not applied before, as a transaction of its own; a refused
        one gets its error in ``errors``.  The headers of those applied."""
        done = self.ledger.seen_many(rs.s, [_key(p) for p in batch])  # repeats: not again
        applied: list[Header] = []
        group: ConditionalGroup | None = None
        for i, p in enumerate(batch):
            assert p.mapped is not None
            if _key(p) in done:
                continue
            if p.mapped.merge is not None:
                if group is not None:
                    group.flush()
                group = None  # what the merge changes is looked up afresh after it
                _apply(rs, p.mapped)
            else:
                if group is None:
                    group = ConditionalGroup(rs)
                    group.look_up(_lookups(batch[i:]))
                try:
                    group.run(p.mapped.entries)
                except Forbidden:
                    raise  # the whole transaction ends as a denial, audited as one
                except KhealthError as error:
                    errors[i] = _storage_error(p, error)
                    continue
            done.add(_key(p))
            applied.append(p.mapped.header)
        if group is not None:
            group.flush()
        return applied

    def _dead_letter(self, p: Prepared, received: int) -> None:
        assert p.error is not None
        message = p.message
        kind = "^".join(message.message_type[:2]).strip("^") if message else ""
        self.ledger.add_dead_letter(DeadLetter(
            id=0, received=received, facility=facility_key(message) if message else "",
            message_type=kind[:16], control_id=(message.control_id if message else "")[:64],
            ack_code=p.error.ack, error=_describe(p.error), sealed=self.sealer.seal(p.raw),
            updated=received,
        ))  # fmt: skip


def _key(p: Prepared) -> tuple[str, str]:
    assert p.mapped is not None
    return p.mapped.header.facility, p.mapped.header.control_id


def _lookups(batch: Sequence[Prepared]) -> list[tuple[str, str]]:
    """The (type, criteria) the messages up to the next merge are keyed by."""
    found: list[tuple[str, str]] = []
    for p in batch:
        if p.mapped is None:
            continue
        if p.mapped.merge is not None:
            break
        for entry in p.mapped.entries:
            request = entry["request"]
            resource_type, _, criteria = str(request["url"]).partition("?")
            criteria = criteria or str(request.get("ifNoneExist") or "")
            if criteria:
                found.append((resource_type, criteria))
    return found


def _apply(rs: RecordSession, mapped: Mapped) -> None:
    """Write one message's entries; an A40 then links the two Patients."""
    _, entries = parse_entries({"resourceType": "Bundle", "type": "transaction",
                                "entry": mapped.entries})  # fmt: skip
    runner = TransactionRunner(rs)
    runner.run(entries)
    if mapped.merge is not None:
        _link_merged(rs, mapped.merge, runner.mapping[mapped.merge.survivor_url])


def _link_merged(rs: RecordSession, merge: Merge, survivor_ref: str) -> None:
    """A40: the old Patient stays, inactive, ``replaced-by`` the survivor, which gets a
    ``replaces`` link.  An old record this platform never saw is created as such a stub, so
    that a late message under the old number still finds the merge."""
    survivor_id = survivor_ref.split("/", 1)[1]
    survivor = _without_version(load_json(rs.read("Patient", survivor_id).content))
    old = rs.conditional_match("Patient", merge.old_identifier)
    if old is None:  # held by the facility that sent the merge, as the survivor is
        body: dict[str, Any] = {"resourceType": "Patient", "active": False,
                                "identifier": [merge.old_resource_identifier]}  # fmt: skip
        if "meta" in survivor:
            body["meta"] = survivor["meta"]
        old_id = rs.create(body).stored.id
    else:
        body = _without_version(load_json(old.content))
        old_id = old.id
    body.update(active=False, link=[{"other": {"reference": survivor_ref}, "type": "replaced-by"}])
    rs.update("Patient", old_id, {**body, "id": old_id})
    links = [link for link in survivor.get("link", []) if link.get("type") != "replaces"]
    links.append({"other": {"reference": f"Patient/{old_id}"}, "type": "replaces"})
    rs.update("Patient", survivor_id, {**survivor, "link": links})


def _without_version(body: dict[str, Any]) -> dict[str, Any]:
    """A stored Patient to write again: its meta goes, except the holder it carries."""
    source = body.pop("meta", {}).get("source")
    if source is not None:
        body["meta"] = {"source": source}
    return body


def _split_location(location: str) -> tuple[str, int, int]:
    parts = location.split("^")
    return parts[0], int(parts[1]), int(parts[2]) if len(parts) > 2 else 0


def _storage_error(p: Prepared, error: KhealthError) -> Hl7Error:
    """The record service refused a resource: report it at the segment it came from, with
    the FHIR path (never the value)."""
    assert p.mapped is not None
    source = "MSH^1"
    paths: list[str] = []
    for issue in error.issues:
        found = _ENTRY.search(issue.diagnostics)
        if found and int(found.group(1)) < len(p.mapped.sources):
            source = p.mapped.sources[int(found.group(1))]
        paths.extend(e.split(".resource.", 1)[-1] for e in issue.expression)
    segment, sequence, _ = _split_location(source)
    where = f" ({', '.join(paths[:3])})" if paths else ""
    return Hl7Error("AE", segment, sequence, 0, "207",
                    f"the {segment} segment did not map to a valid FHIR resource{where}")  # fmt: skip


def _describe(error: Hl7Error) -> str:
    return f"{error.location}: {error.text}"
