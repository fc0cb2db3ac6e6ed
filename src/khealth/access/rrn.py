"""The Korean resident registration number (주민등록번호) as a keyed token.

The plain number is never stored (ARCHITECTURE.md, privacy invariants): every ingest path
replaces it on arrival with an HMAC-SHA256 under a key kept apart from the database
(``KHEALTH_DATA_DIR/rrn-hmac.key``).  A plain hash would not do: the space of numbers is
small enough to enumerate, and Korean pseudonymisation guidance does not count it as
de-identified.  The same key gives the same token, so the master patient index can link
records deterministically on it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

#: FHIR Identifier.system of a tokenised resident registration number
RRN_TOKEN_SYSTEM = "urn:khealth:rrn-token"  # noqa: S105  (a URI, not a secret)
KEY_FILE = "rrn-hmac.key"
_RRN = re.compile(r"\d{6}-?\d{7}")


def looks_like_rrn(value: str) -> bool:
    """Thirteen digits, optionally ``YYMMDD-NNNNNNN`` (no checksum test: a number that
    fails it is still personal data and must not be stored)."""
    return _RRN.fullmatch(value.strip()) is not None


def tokenise_rrn(value: str, key: bytes) -> str:
    """The keyed token of a resident number; the hyphen and spaces do not matter."""
    digits = re.sub(r"\D", "", value)
    return hmac.new(key, digits.encode("ascii"), hashlib.sha256).hexdigest()


def load_or_create_rrn_key(data_dir: Path) -> bytes:
    """The HMAC key, generated on first use (32 random bytes, file mode 600)."""
    path = data_dir / KEY_FILE
    if path.exists():
        return bytes.fromhex(path.read_text().strip())
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32))
    try:
        os.link(tmp, path)  # first writer wins when two processes start together
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return bytes.fromhex(path.read_text().strip())
