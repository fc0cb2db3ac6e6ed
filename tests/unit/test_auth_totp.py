"""TOTP (RFC 6238) against the RFC's own test vectors, and the replay rule."""

from __future__ import annotations

import base64

import pytest

from khealth.auth import totp

SEEDS = {
    "SHA1": b"12345678901234567890",
    "SHA256": b"12345678901234567890123456789012",
    "SHA512": b"1234567890123456789012345678901234567890123456789012345678901234",
}
# RFC 6238 Appendix B: time, then the 8-digit codes for SHA1, SHA256, SHA512
VECTORS = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]


@pytest.mark.parametrize(("at", "sha1", "sha256", "sha512"), VECTORS)
def test_it_matches_the_rfc_6238_test_vectors(at: int, sha1: str, sha256: str, sha512: str) -> None:
    for algorithm, expected in (("SHA1", sha1), ("SHA256", sha256), ("SHA512", sha512)):
        assert totp.totp_at(SEEDS[algorithm], at, digits=8, algorithm=algorithm) == expected


def test_it_accepts_a_code_once_and_one_step_of_drift() -> None:
    secret = base64.b32encode(SEEDS["SHA1"]).decode().rstrip("=")
    now = 1111111111
    code = totp.code_for(secret, now)
    step = totp.accepted_step(secret, code, now, last_step=0)
    assert step == now // 30
    assert totp.accepted_step(secret, code, now, last_step=step) is None  # replay
    assert totp.accepted_step(secret, totp.code_for(secret, now - 30), now, 0) is not None
    assert totp.accepted_step(secret, totp.code_for(secret, now - 90), now, 0) is None
    assert totp.accepted_step(secret, "12345", now, 0) is None


def test_the_provisioning_uri_is_an_otpauth_uri() -> None:
    uri = totp.provisioning_uri("JBSWY3DPEHPK3PXP", "carol")
    assert uri.startswith("otpauth://totp/khealth%3Acarol?secret=JBSWY3DPEHPK3PXP&issuer=khealth")
