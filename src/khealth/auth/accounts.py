"""Accounts: staff (username, scrypt password, TOTP) and citizens (known by a keyed hash
of their CI), and whom each citizen may act for."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from khealth.access.context import Role
from khealth.auth import totp
from khealth.auth.model import Account, AccountKind, PatientLink
from khealth.auth.passwords import MIN_LENGTH, burn_time, hash_password, verify_password
from khealth.auth.ports import AuthStore
from khealth.auth.rate_limit import SIGN_IN_ACCOUNT, RateLimiter
from khealth.auth.secrets import new_id

STAFF_ROLES = (Role.CLINICIAN, Role.HOSPITAL_SYSTEM, Role.EMS, Role.RESEARCHER, Role.OPERATOR,
               Role.AUDITOR)  # fmt: skip
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._\-]{1,62}$")


class AccountError(ValueError):
    """A bad account request; the message is safe to show."""


def _now() -> int:
    return int(time.time())


class Accounts:
    def __init__(
        self, store: AuthStore, limiter: RateLimiter, clock: Callable[[], int] = _now
    ) -> None:
        self.store, self.limiter, self.clock = store, limiter, clock

    # -- staff --------------------------------------------------------------------------
    def add_staff(
        self,
        username: str,
        password: str,
        role: Role,
        facility: str | None = None,
        fhir_user: str | None = None,
        *,
        work_factor: int | None = None,
    ) -> Account:
        if not _USERNAME.match(username):
            raise AccountError("username: 2-63 of a-z 0-9 . _ -")
        if role not in STAFF_ROLES:
            raise AccountError("role must be one of: " + ", ".join(STAFF_ROLES))
        if role in (Role.CLINICIAN, Role.HOSPITAL_SYSTEM) and not facility:
            raise AccountError("a clinician or hospital system needs --facility")
        if len(password) < MIN_LENGTH:
            raise AccountError(f"the password needs at least {MIN_LENGTH} characters")
        if self.store.account_by_username(username) is not None:
            raise AccountError("that username is taken")
        hashed = hash_password(password, n=work_factor) if work_factor else hash_password(password)
        account = Account(new_id(), AccountKind.STAFF, str(role), username=username,
                          password_hash=hashed, facility=facility, fhir_user=fhir_user,
                          created=self.clock())  # fmt: skip
        self.store.add_account(account)
        return account

    def check_password(self, username: str, password: str, client_ip: str) -> Account | None:
        """The staff account if the password is right.  Every attempt counts against the
        account's window (rate limit → RateLimited), found or not."""
        self.limiter.hit("sign-in:" + username.lower(), SIGN_IN_ACCOUNT)
        account = self.store.account_by_username(username.lower())
        if account is None or account.disabled or account.password_hash is None:
            burn_time(password)
            return None
        return account if verify_password(password, account.password_hash) else None

    def begin_totp(self, account: Account) -> tuple[Account, str]:
        """A new (unconfirmed) secret and its otpauth:// URI, for a staff member who has not
        enrolled yet."""
        secret = totp.new_secret()
        updated = replace(account, totp_secret=secret, totp_confirmed=False)
        self.store.update_account(updated)
        return updated, totp.provisioning_uri(secret, account.username or account.id)

    def check_totp(self, account: Account, code: str) -> bool:
        """Right code → remember its step (no replay) and confirm enrolment."""
        self.limiter.hit("totp:" + account.id, SIGN_IN_ACCOUNT)
        if account.totp_secret is None:
            return False
        step = totp.accepted_step(account.totp_secret, code.strip(), self.clock(),
                                  account.totp_last_step)  # fmt: skip
        if step is None:
            return False
        self.store.update_account(replace(account, totp_last_step=step, totp_confirmed=True))
        return True

    # -- citizens -----------------------------------------------------------------------
    def citizen(self, ci_hash: str, patient_ids: Sequence[str]) -> Account:
        """The citizen's account (created on first sign-in), linked to their records."""
        account = self.store.account_by_ci(ci_hash)
        if account is None:
            account = Account(new_id(), AccountKind.CITIZEN, str(Role.CITIZEN),
                              ci_hash=ci_hash, created=self.clock())  # fmt: skip
            self.store.add_account(account)
        known = {link.patient_id for link in self.store.links_of(account.id)}
        for patient in patient_ids:
            if patient not in known:
                self.store.add_link(PatientLink(account.id, patient, "self"))
        return account

    def add_guardianship(self, account_id: str, patient_id: str) -> None:
        """A guardian (a parent of a child under 14, a court-appointed guardian) may act for
        ``patient_id``.  Recorded by an operator after checking the paperwork."""
        if self.store.get_account(account_id) is None:
            raise AccountError("no such account")
        if any(link.patient_id == patient_id for link in self.store.links_of(account_id)):
            return
        self.store.add_link(PatientLink(account_id, patient_id, "guardian"))
