"""Citizen identity verification, Korean style (본인인증), behind a pluggable port.

In Korea a citizen proves who they are to a web service through a licensed identity
verification agency (휴대폰 본인확인: name, birth date, mobile number and carrier, then a
one-time code by SMS); the agency returns a **CI** (연계정보), an 88-character value that
is the same for one person at every service, so services can recognise the person
without holding their resident registration number.

:class:`DevMobileVerifier` is a **stand-in** for such an agency, for development and
demos only: it "sends" the code to a development SMS outbox (a table shown at
``/auth/dev/sms-outbox`` when ``KHEALTH_DEV_MODE=1``) and returns a *synthetic* CI, the
HMAC-SHA-512 of name, birth date and phone under a development key.  It checks nothing
about the person.  A real deployment plugs an agency's client in through
:class:`IdentityVerifier` and ``KHEALTH_IDENTITY_VERIFIER``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from khealth.auth.errors import RateLimited
from khealth.auth.model import Verification
from khealth.auth.ports import AuthStore
from khealth.auth.rate_limit import CODE_CHECK_ACCOUNT, CODE_SEND_PHONE, RateLimiter
from khealth.auth.secrets import digest, new_id

CARRIERS = ("SKT", "KT", "LGU+", "SKT-MVNO", "KT-MVNO", "LGU+-MVNO")
CODE_LIFETIME = 180  # seconds, as Korean verification services use
MAX_ATTEMPTS = 5
_PHONE = re.compile(r"^01[016789]-?\d{3,4}-?\d{4}$")
_BIRTH = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True, slots=True)
class VerificationRequest:
    name: str
    birth_date: str  # YYYY-MM-DD
    phone: str  # 010-1234-5678
    carrier: str


@dataclass(frozen=True, slots=True)
class VerifiedIdentity:
    ci: str
    name: str
    birth_date: str
    phone: str


class VerificationFailed(Exception):
    """Wrong, expired or exhausted code; the message is safe to show."""


class IdentityVerifier(Protocol):
    name: str

    def start(self, request: VerificationRequest) -> str:
        """Send a one-time code; return the verification id the confirmation refers to."""
        ...

    def confirm(self, verification_id: str, code: str) -> VerifiedIdentity:
        """The verified person, or VerificationFailed."""
        ...


def normalise_phone(phone: str) -> str:
    digits = re.sub(r"\D", "", phone)
    return f"{digits[:3]}-{digits[3:-4]}-{digits[-4:]}"


def mask_phone(phone: str) -> str:
    """One masking rule everywhere (docs/auth.md): 010-1234-****."""
    return normalise_phone(phone)[:-4] + "****"


def validate(request: VerificationRequest) -> VerificationRequest:
    name = request.name.strip()
    if not (1 <= len(name) <= 40):
        raise VerificationFailed("이름을 확인해 주세요 / check the name")
    if not _BIRTH.match(request.birth_date):
        raise VerificationFailed("생년월일을 확인해 주세요 / check the birth date")
    if not _PHONE.match(request.phone.strip()):
        raise VerificationFailed("휴대폰 번호를 확인해 주세요 / check the mobile number")
    if request.carrier not in CARRIERS:
        raise VerificationFailed("통신사를 선택해 주세요 / choose the carrier")
    return VerificationRequest(name, request.birth_date, normalise_phone(request.phone),
                               request.carrier)  # fmt: skip


class DevMobileVerifier:
    """Development stand-in for mobile identity verification (see the module docstring)."""

    name = "dev"

    def __init__(
        self, store: AuthStore, key: bytes, clock: Callable[[], int], limiter: RateLimiter
    ) -> None:
        self.store, self.key, self.clock, self.limiter = store, key, clock, limiter

    def synthetic_ci(self, name: str, birth_date: str, phone: str) -> str:
        message = "\x1f".join(("dev-ci-v1", name, birth_date, normalise_phone(phone)))
        mac = hmac.new(self.key, message.encode(), hashlib.sha512).digest()
        return base64.b64encode(mac).decode("ascii")  # 88 characters, like a real CI

    def start(self, request: VerificationRequest) -> str:
        request = validate(request)
        self.limiter.hit("sms-phone:" + digest(request.phone), CODE_SEND_PHONE)
        now, code = self.clock(), f"{secrets.randbelow(10**6):06d}"
        verification = Verification(
            new_id(), digest(code), now, now + CODE_LIFETIME, 0,
            {"name": request.name, "birth_date": request.birth_date, "phone": request.phone},
        )  # fmt: skip
        self.store.put_verification(verification)
        self.store.add_sms(now, mask_phone(request.phone),
                           f"[khealth 개발용] 인증번호 [{code}] 를 입력해 주세요. (3분 유효)")  # fmt: skip
        return verification.id

    def confirm(self, verification_id: str, code: str) -> VerifiedIdentity:
        found = self.store.get_verification(verification_id)
        if found is None or found.expires < self.clock():
            raise VerificationFailed("인증번호가 만료되었습니다 / the code has expired")
        try:
            self.limiter.hit("code:" + verification_id, CODE_CHECK_ACCOUNT)
        except RateLimited:
            self.store.delete_verification(verification_id)
            raise
        if not hmac.compare_digest(digest(code.strip()), found.code_hash):
            attempts = found.attempts + 1
            if attempts >= MAX_ATTEMPTS:
                self.store.delete_verification(verification_id)
            else:
                self.store.put_verification(_with_attempts(found, attempts))
            raise VerificationFailed("인증번호가 맞지 않습니다 / the code is not right")
        self.store.delete_verification(verification_id)  # one use; the details go with it
        d = found.detail
        ci = self.synthetic_ci(d["name"], d["birth_date"], d["phone"])
        return VerifiedIdentity(ci, d["name"], d["birth_date"], d["phone"])


def _with_attempts(found: Verification, attempts: int) -> Verification:
    return Verification(found.id, found.code_hash, found.created, found.expires, attempts,
                        found.detail)  # fmt: skip


def ci_hash(key: bytes, ci: str) -> str:
    """How an account remembers its CI: a keyed hash, so the table never holds the CI."""
    return hmac.new(key, b"ci-account-v1\x1f" + ci.encode(), hashlib.sha256).hexdigest()
