"""The authorisation server's tables on SQLite / PostgreSQL (``AuthStore`` of
``khealth.auth.ports``).  Each method is one short transaction; a code or refresh token is
taken with a conditional UPDATE, so of two concurrent uses exactly one is the first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import orjson
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from khealth.auth.model import (
    Account,
    AccountKind,
    AuthorizationCode,
    Client,
    ClientKind,
    Grant,
    PatientLink,
    RefreshToken,
    Session,
    SmsMessage,
    Verification,
)
from khealth.store.schema import (
    auth_account,
    auth_client,
    auth_code,
    auth_grant,
    auth_patient_link,
    auth_refresh_token,
    auth_seen_jti,
    auth_session,
    auth_sms_outbox,
    auth_verification,
)


def _client(row: Any) -> Client:
    return Client(row.client_id, row.name, ClientKind(row.kind),
                  tuple(orjson.loads(row.redirect_uris)), row.scope, row.jwks, row.role,
                  row.facility, row.created)  # fmt: skip


def _grant(row: Any) -> Grant:
    return Grant(row.id, row.client_id, row.subject, row.role, row.scope, row.patient,
                 row.facility, row.created, row.revoked)  # fmt: skip


def _account(row: Any) -> Account:
    return Account(row.id, AccountKind(row.kind), row.role, row.username, row.password_hash,
                   row.totp_secret, row.totp_confirmed, row.totp_last_step, row.facility,
                   row.ci_hash, row.fhir_user, row.created, row.disabled)  # fmt: skip


def _session(row: Any) -> Session:
    return Session(row.id_hash, row.csrf, row.created, row.last_seen, row.account_id,
                   row.stage, orjson.loads(row.data))  # fmt: skip


class SqlAuthStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _one(self, stmt: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(stmt).first()

    # -- clients ---------------------------------------------------------------------------
    def add_client(self, client: Client) -> None:
        values = asdict(client) | {"kind": str(client.kind),
                                   "redirect_uris": orjson.dumps(list(client.redirect_uris)).decode()}  # fmt: skip
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(auth_client).values(values))
        except IntegrityError:
            raise ValueError("client_id exists") from None

    def get_client(self, client_id: str) -> Client | None:
        row = self._one(select(auth_client).where(auth_client.c.client_id == client_id))
        return _client(row) if row else None

    # -- grants and tokens -----------------------------------------------------------------
    def add_grant(self, grant: Grant) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(auth_grant).values(asdict(grant)))

    def get_grant(self, grant_id: str) -> Grant | None:
        row = self._one(select(auth_grant).where(auth_grant.c.id == grant_id))
        return _grant(row) if row else None

    def revoke_grants(self, grant_ids: Sequence[str], at: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(auth_grant)
                .where(auth_grant.c.id.in_(list(grant_ids)), auth_grant.c.revoked.is_(None))
                .values(revoked=at)
            )

    def grants_of(self, subject: str) -> list[Grant]:
        stmt = (
            select(auth_grant)
            .where(auth_grant.c.subject == subject, auth_grant.c.revoked.is_(None))
            .order_by(auth_grant.c.created, auth_grant.c.id)
        )
        with self.engine.connect() as conn:
            return [_grant(row) for row in conn.execute(stmt)]

    def add_code(self, code: AuthorizationCode) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(auth_code).values(asdict(code)))

    def take_code(self, code_hash: str) -> tuple[AuthorizationCode, bool] | None:
        where = auth_code.c.code_hash == code_hash
        with self.engine.begin() as conn:
            first = conn.execute(
                update(auth_code).where(where, auth_code.c.used.is_(False)).values(used=True)
            ).rowcount
            row = conn.execute(select(auth_code).where(where)).first()
        if row is None:
            return None
        code = AuthorizationCode(row.code_hash, row.grant_id, row.client_id, row.redirect_uri,
                                 row.code_challenge, row.nonce, row.expires, row.used)  # fmt: skip
        return code, first == 1

    def add_refresh_token(self, token: RefreshToken) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(auth_refresh_token).values(asdict(token)))

    def get_refresh_token(self, token_hash: str) -> RefreshToken | None:
        row = self._one(
            select(auth_refresh_token).where(auth_refresh_token.c.token_hash == token_hash)
        )
        return RefreshToken(row.token_hash, row.grant_id, row.created, row.expires, row.used) if row else None  # fmt: skip

    def take_refresh_token(self, token_hash: str, at: int) -> tuple[RefreshToken, bool] | None:
        where = auth_refresh_token.c.token_hash == token_hash
        with self.engine.begin() as conn:
            first = conn.execute(
                update(auth_refresh_token)
                .where(where, auth_refresh_token.c.used.is_(None))
                .values(used=at)
            ).rowcount
            row = conn.execute(select(auth_refresh_token).where(where)).first()
        if row is None:
            return None
        return RefreshToken(row.token_hash, row.grant_id, row.created, row.expires, row.used), first == 1  # fmt: skip

    def revoke_token_id(self, jti: str, expires: int) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(auth_seen_jti).values(kind="revoked", jti=jti, expires=expires))
        except IntegrityError:
            pass  # already revoked

    def is_revoked(self, jti: str | None, grant_id: str | None) -> bool:
        with self.engine.connect() as conn:
            if jti is not None:
                hit = conn.execute(select(auth_seen_jti.c.jti).where(
                    auth_seen_jti.c.kind == "revoked", auth_seen_jti.c.jti == jti)).first()  # fmt: skip
                if hit is not None:
                    return True
            if grant_id is None:
                return False
            row = conn.execute(
                select(auth_grant.c.revoked).where(auth_grant.c.id == grant_id)
            ).first()
        return row is None or row.revoked is not None

    def remember_assertion(self, key: str, expires: int, now: int) -> bool:
        try:
            with self.engine.begin() as conn:
                conn.execute(delete(auth_seen_jti).where(
                    auth_seen_jti.c.kind == "assertion", auth_seen_jti.c.expires < now))  # fmt: skip
                conn.execute(insert(auth_seen_jti).values(kind="assertion", jti=key, expires=expires))  # fmt: skip
        except IntegrityError:
            return False
        return True

    # -- accounts --------------------------------------------------------------------------
    def add_account(self, account: Account) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(auth_account).values(asdict(account) | {"kind": str(account.kind)}))  # fmt: skip
        except IntegrityError:
            raise ValueError("account exists") from None

    def get_account(self, account_id: str) -> Account | None:
        row = self._one(select(auth_account).where(auth_account.c.id == account_id))
        return _account(row) if row else None

    def account_by_username(self, username: str) -> Account | None:
        row = self._one(select(auth_account).where(auth_account.c.username == username))
        return _account(row) if row else None

    def account_by_ci(self, ci_hash: str) -> Account | None:
        row = self._one(select(auth_account).where(auth_account.c.ci_hash == ci_hash))
        return _account(row) if row else None

    def update_account(self, account: Account) -> None:
        values = asdict(account) | {"kind": str(account.kind)}
        with self.engine.begin() as conn:
            conn.execute(update(auth_account).where(auth_account.c.id == account.id).values(values))

    def add_link(self, link: PatientLink) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(auth_patient_link).values(asdict(link)))
        except IntegrityError:
            pass  # already linked

    def links_of(self, account_id: str) -> list[PatientLink]:
        stmt = select(auth_patient_link).where(auth_patient_link.c.account_id == account_id)
        with self.engine.connect() as conn:
            found = [PatientLink(r.account_id, r.patient_id, r.relationship) for r in conn.execute(stmt)]  # fmt: skip
        return sorted(found, key=lambda link: (link.relationship != "self", link.patient_id))

    # -- sessions --------------------------------------------------------------------------
    def put_session(self, session: Session) -> None:
        values = asdict(session) | {"data": orjson.dumps(session.data).decode()}
        where = auth_session.c.id_hash == session.id_hash
        with self.engine.begin() as conn:
            if conn.execute(update(auth_session).where(where).values(values)).rowcount == 0:
                conn.execute(insert(auth_session).values(values))

    def get_session(self, id_hash: str) -> Session | None:
        row = self._one(select(auth_session).where(auth_session.c.id_hash == id_hash))
        return _session(row) if row else None

    def delete_session(self, id_hash: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(auth_session).where(auth_session.c.id_hash == id_hash))

    # -- identity verification -------------------------------------------------------------
    def put_verification(self, verification: Verification) -> None:
        values = asdict(verification) | {"detail": orjson.dumps(verification.detail).decode()}
        where = auth_verification.c.id == verification.id
        with self.engine.begin() as conn:
            if conn.execute(update(auth_verification).where(where).values(values)).rowcount == 0:
                conn.execute(insert(auth_verification).values(values))

    def get_verification(self, verification_id: str) -> Verification | None:
        row = self._one(select(auth_verification).where(auth_verification.c.id == verification_id))
        if row is None:
            return None
        return Verification(row.id, row.code_hash, row.created, row.expires, row.attempts,
                            orjson.loads(row.detail))  # fmt: skip

    def delete_verification(self, verification_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(auth_verification).where(auth_verification.c.id == verification_id))  # fmt: skip

    def add_sms(self, created: int, recipient: str, body: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(auth_sms_outbox).values(created=created, recipient=recipient, body=body))  # fmt: skip

    def recent_sms(self, limit: int) -> list[SmsMessage]:
        stmt = select(auth_sms_outbox).order_by(auth_sms_outbox.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [SmsMessage(r.id, r.created, r.recipient, r.body) for r in conn.execute(stmt)]


__all__ = ["SqlAuthStore"]
