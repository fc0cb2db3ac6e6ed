"""The authorisation server's tables in memory (``AuthStore`` of ``khealth.auth.ports``):
the reference the SQL implementation is tested against, and the store of memory-backed
apps in tests."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace

from khealth.auth.model import (
    Account,
    AuthorizationCode,
    Client,
    Grant,
    PatientLink,
    RefreshToken,
    Session,
    SmsMessage,
    Verification,
)


class MemoryAuthStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.clients: dict[str, Client] = {}
        self.grants: dict[str, Grant] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.refresh: dict[str, RefreshToken] = {}
        self.seen: dict[tuple[str, str], int] = {}
        self.accounts: dict[str, Account] = {}
        self.links: dict[tuple[str, str], PatientLink] = {}
        self.sessions: dict[str, Session] = {}
        self.verifications: dict[str, Verification] = {}
        self.sms: list[SmsMessage] = []

    def add_client(self, client: Client) -> None:
        with self._lock:
            if client.client_id in self.clients:
                raise ValueError("client_id exists")
            self.clients[client.client_id] = client

    def get_client(self, client_id: str) -> Client | None:
        return self.clients.get(client_id)

    def add_grant(self, grant: Grant) -> None:
        with self._lock:
            self.grants[grant.id] = grant

    def get_grant(self, grant_id: str) -> Grant | None:
        return self.grants.get(grant_id)

    def revoke_grants(self, grant_ids: Sequence[str], at: int) -> None:
        with self._lock:
            for grant_id in grant_ids:
                grant = self.grants.get(grant_id)
                if grant is not None and grant.revoked is None:
                    self.grants[grant_id] = replace(grant, revoked=at)

    def grants_of(self, subject: str) -> list[Grant]:
        found = [g for g in self.grants.values() if g.subject == subject and g.revoked is None]
        return sorted(found, key=lambda g: (g.created, g.id))

    def add_code(self, code: AuthorizationCode) -> None:
        with self._lock:
            self.codes[code.code_hash] = code

    def take_code(self, code_hash: str) -> tuple[AuthorizationCode, bool] | None:
        with self._lock:
            code = self.codes.get(code_hash)
            if code is None:
                return None
            self.codes[code_hash] = replace(code, used=True)
            return code, not code.used

    def add_refresh_token(self, token: RefreshToken) -> None:
        with self._lock:
            self.refresh[token.token_hash] = token

    def get_refresh_token(self, token_hash: str) -> RefreshToken | None:
        return self.refresh.get(token_hash)

    def take_refresh_token(self, token_hash: str, at: int) -> tuple[RefreshToken, bool] | None:
        with self._lock:
            token = self.refresh.get(token_hash)
            if token is None:
                return None
            if token.used is None:
                self.refresh[token_hash] = replace(token, used=at)
            return token, token.used is None

    def revoke_token_id(self, jti: str, expires: int) -> None:
        with self._lock:
            self.seen[("revoked", jti)] = expires

    def is_revoked(self, jti: str | None, grant_id: str | None) -> bool:
        if jti is not None and ("revoked", jti) in self.seen:
            return True
        if grant_id is None:
            return False
        grant = self.grants.get(grant_id)
        return grant is None or grant.revoked is not None

    def remember_assertion(self, key: str, expires: int, now: int) -> bool:
        with self._lock:
            for stale in [k for k, v in self.seen.items() if k[0] == "assertion" and v < now]:
                del self.seen[stale]
            if ("assertion", key) in self.seen:
                return False
            self.seen[("assertion", key)] = expires
            return True

    def add_account(self, account: Account) -> None:
        with self._lock:
            taken = any(
                (account.username and a.username == account.username)
                or (account.ci_hash and a.ci_hash == account.ci_hash)
                for a in self.accounts.values()
            )
            if taken or account.id in self.accounts:
                raise ValueError("account exists")
            self.accounts[account.id] = account

    def get_account(self, account_id: str) -> Account | None:
        return self.accounts.get(account_id)

    def account_by_username(self, username: str) -> Account | None:
        return next((a for a in self.accounts.values() if a.username == username), None)

    def account_by_ci(self, ci_hash: str) -> Account | None:
        return next((a for a in self.accounts.values() if a.ci_hash == ci_hash), None)

    def update_account(self, account: Account) -> None:
        with self._lock:
            self.accounts[account.id] = account

    def add_link(self, link: PatientLink) -> None:
        with self._lock:
            self.links.setdefault((link.account_id, link.patient_id), link)

    def links_of(self, account_id: str) -> list[PatientLink]:
        found = [v for k, v in self.links.items() if k[0] == account_id]
        return sorted(found, key=lambda link: (link.relationship != "self", link.patient_id))

    def put_session(self, session: Session) -> None:
        with self._lock:
            self.sessions[session.id_hash] = session

    def get_session(self, id_hash: str) -> Session | None:
        return self.sessions.get(id_hash)

    def delete_session(self, id_hash: str) -> None:
        with self._lock:
            self.sessions.pop(id_hash, None)

    def put_verification(self, verification: Verification) -> None:
        with self._lock:
            self.verifications[verification.id] = verification

    def get_verification(self, verification_id: str) -> Verification | None:
        return self.verifications.get(verification_id)

    def delete_verification(self, verification_id: str) -> None:
        with self._lock:
            self.verifications.pop(verification_id, None)

    def add_sms(self, created: int, recipient: str, body: str) -> None:
        with self._lock:
            self.sms.append(SmsMessage(len(self.sms) + 1, created, recipient, body))

    def recent_sms(self, limit: int) -> list[SmsMessage]:
        return list(reversed(self.sms[-limit:]))
