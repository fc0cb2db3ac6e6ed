"""Checkpoint signatures with the platform's ES256 key (the token key of access/tokens.py):
ECDSA over P-256 with SHA-256, DER-encoded.  Verification needs only the public key, so
an auditor or a witness can check a log without being able to sign one."""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import ECKey

_ECDSA = ec.ECDSA(hashes.SHA256())


class KeySigner:
    def __init__(self, key: ECKey) -> None:
        private = key.private_key
        if not isinstance(private, ec.EllipticCurvePrivateKey):
            raise ValueError("audit checkpoints need the private signing key")
        self._private = private
        self.key_id = str(key.kid)

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message, _ECDSA)


class KeyChecker:
    """Checks signatures against known public keys by key id (a rotated key stays listed)."""

    def __init__(self, keys: Sequence[ECKey]) -> None:
        self._public = {str(k.kid): k.public_key for k in keys}

    def __call__(self, key_id: str, message: bytes, signature: bytes) -> bool:
        public = self._public.get(key_id)
        if not isinstance(public, ec.EllipticCurvePublicKey):
            return False
        try:
            public.verify(signature, message, _ECDSA)
        except InvalidSignature:
            return False
        return True
