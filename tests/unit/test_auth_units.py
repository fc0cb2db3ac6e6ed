"""Small pieces of the authorisation server: PKCE, scope policy, passwords, rate limits,
session timeouts (frozen clock), the identity verification stand-in."""

from __future__ import annotations

import pytest

from khealth.auth.errors import OAuthError, RateLimited
from khealth.auth.identity_verification import (
    DevMobileVerifier,
    VerificationFailed,
    VerificationRequest,
    mask_phone,
)
from khealth.auth.passwords import hash_password, verify_password
from khealth.auth.pkce import check_challenge, check_verifier, s256
from khealth.auth.rate_limit import Limit, RateLimiter
from khealth.auth.scope_policy import grant_scopes
from khealth.auth.sessions import ANONYMOUS, CITIZEN, STAFF, Sessions
from khealth.store.auth_memory import MemoryAuthStore


class Clock:
    def __init__(self, now: int = 1_800_000_000) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


# -- PKCE ---------------------------------------------------------------------------------
def test_pkce_s256_matches_rfc_7636_appendix_b() -> None:
    assert (
        s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
        == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )


@pytest.mark.parametrize(("challenge", "method"), [("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "plain"),
                                                   ("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", None),
                                                   (None, "S256"), ("short", "S256")])  # fmt: skip
def test_pkce_refuses_plain_missing_and_malformed_challenges(
    challenge: str | None, method: str | None
) -> None:
    with pytest.raises(OAuthError):
        check_challenge(challenge, method)


def test_pkce_refuses_a_wrong_verifier() -> None:
    with pytest.raises(OAuthError):
        check_verifier("x" * 43, s256("y" * 43))


# -- scopes -------------------------------------------------------------------------------
CEILING = "openid fhirUser launch/patient offline_access patient/*.rs user/*.rs"


def test_a_citizen_gets_patient_scopes_within_the_ceiling_and_v1_forms_are_kept() -> None:
    granted = grant_scopes("launch/patient openid patient/Observation.read patient/*.cruds user/*.rs "
                           "system/*.rs patient/Condition.rs?category=x", CEILING, frozenset({"patient"}))  # fmt: skip
    assert granted == "launch/patient openid patient/Observation.read"


def test_nothing_grantable_is_invalid_scope() -> None:
    with pytest.raises(OAuthError) as refused:
        grant_scopes("openid patient/*.cruds", CEILING, frozenset({"patient"}))
    assert refused.value.error == "invalid_scope"


# -- passwords ----------------------------------------------------------------------------
def test_passwords_are_scrypt_hashed_and_checked() -> None:
    stored = hash_password("correct horse battery", n=2**10)
    assert stored.startswith("scrypt$1024$8$1$") and "correct" not in stored
    assert verify_password("correct horse battery", stored)
    assert not verify_password("Correct horse battery", stored)
    assert not verify_password("x", "not-a-hash")


# -- rate limits --------------------------------------------------------------------------
def test_the_rate_limiter_refuses_past_the_window_count_and_forgets_after_it() -> None:
    clock = Clock()
    limiter = RateLimiter(clock)
    for _ in range(3):
        limiter.hit("k", Limit(3, 60))
    with pytest.raises(RateLimited) as limited:
        limiter.hit("k", Limit(3, 60))
    assert 1 <= limited.value.retry_after <= 60
    limiter.hit("other", Limit(3, 60))  # per key
    clock.now += 61
    limiter.hit("k", Limit(3, 60))


# -- sessions -----------------------------------------------------------------------------
def _signed_in(kind: str) -> tuple[Sessions, Clock, str]:
    clock = Clock()
    sessions = Sessions(MemoryAuthStore(), clock)
    _cookie, session = sessions.open()
    cookie, _ = sessions.elevate(session, account_id="a1", stage="active", data={"kind": kind},
                                 created=clock())  # fmt: skip
    return sessions, clock, cookie


@pytest.mark.parametrize(("kind", "limits"), [("staff", STAFF), ("citizen", CITIZEN)])
def test_a_session_ends_after_its_idle_timeout(kind: str, limits: object) -> None:
    sessions, clock, cookie = _signed_in(kind)
    clock.now += limits.idle - 1  # type: ignore[attr-defined]
    assert sessions.load(cookie) is not None  # activity resets the idle clock
    clock.now += limits.idle + 1  # type: ignore[attr-defined]
    assert sessions.load(cookie) is None
    assert sessions.load(cookie) is None  # and it is gone


def test_a_staff_session_ends_at_eight_hours_however_active() -> None:
    sessions, clock, cookie = _signed_in("staff")
    for _ in range(STAFF.absolute // (10 * 60) - 1):
        clock.now += 10 * 60
        assert sessions.load(cookie) is not None
    clock.now += 10 * 60 + 1
    assert sessions.load(cookie) is None


def test_an_anonymous_session_lives_an_hour_at_most() -> None:
    clock = Clock()
    sessions = Sessions(MemoryAuthStore(), clock)
    cookie, _ = sessions.open()
    clock.now += ANONYMOUS.absolute + 1
    assert sessions.load(cookie) is None


def test_elevating_a_session_replaces_its_id_and_csrf_token() -> None:
    sessions = Sessions(MemoryAuthStore(), Clock())
    old_cookie, old = sessions.open()
    new_cookie, new = sessions.elevate(old, stage="active")
    assert new_cookie != old_cookie and new.csrf != old.csrf
    assert sessions.load(old_cookie) is None


# -- the identity verification stand-in ----------------------------------------------------
def _verifier() -> tuple[DevMobileVerifier, MemoryAuthStore, Clock]:
    store, clock = MemoryAuthStore(), Clock()
    return DevMobileVerifier(store, b"k" * 32, clock, RateLimiter(clock)), store, clock


ASK = VerificationRequest("홍길동", "1990-01-02", "01012345678", "SKT")


def test_the_stand_in_sends_a_code_to_the_outbox_and_returns_a_synthetic_ci() -> None:
    verifier, store, _clock = _verifier()
    started = verifier.start(ASK)
    sms = store.recent_sms(1)[0]
    assert sms.recipient == "010-1234-****" and "5678" not in sms.body
    code = sms.body.split("[")[2].split("]")[0]
    identity = verifier.confirm(started, code)
    assert len(identity.ci) == 88 and identity.ci == verifier.synthetic_ci(
        "홍길동", "1990-01-02", "010-1234-5678"
    )
    with pytest.raises(VerificationFailed):
        verifier.confirm(started, code)  # one use


def test_the_stand_in_refuses_wrong_and_expired_codes_and_gives_up_after_five() -> None:
    verifier, store, clock = _verifier()
    started = verifier.start(ASK)
    code = store.recent_sms(1)[0].body.split("[")[2].split("]")[0]
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        with pytest.raises(VerificationFailed):
            verifier.confirm(started, wrong)
    with pytest.raises((VerificationFailed, RateLimited)):
        verifier.confirm(started, code)
    later = verifier.start(ASK)
    clock.now += 181
    code = store.recent_sms(1)[0].body.split("[")[2].split("]")[0]
    with pytest.raises(VerificationFailed):
        verifier.confirm(later, code)


def test_the_stand_in_limits_codes_sent_to_one_phone() -> None:
    verifier, _store, _clock = _verifier()
    for _ in range(3):
        verifier.start(ASK)
    with pytest.raises(RateLimited):
        verifier.start(ASK)


def test_phone_numbers_are_masked_one_way_everywhere() -> None:
    assert mask_phone("01098765432") == mask_phone("010-9876-5432") == "010-9876-****"
