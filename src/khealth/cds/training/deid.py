"""De-identification of the person-level training table (reference: deid-openlab-linkage §1.7, §3.5).

What leaves the record and how:
- names, resident registration numbers, CI, phones, MRNs, facility ids: never read into the table;
- the person key becomes a keyed pseudonym, HMAC-SHA-256 under a project key that is not stored
  with the data (a plain hash of an identifier would still count as an identifier under the
  Korean health-data guideline);
- birth date becomes completed years of age at the index date, 90 and over pooled as 90;
- address becomes the district (자치구) only;
- dates become day counts relative to the index date.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

AGE_CEILING = 90
# Only for synthetic data: a real extract takes the platform-held project key instead.
DEVELOPMENT_KEY = "khealth-synthetic-training-key-v1"


class Pseudonymiser:
    """Keyed, deterministic pseudonyms: the same person gets the same pseudonym within a
    project (same key) and unlinkable ones across projects (different keys)."""

    def __init__(self, key: str) -> None:
        if not key:
            raise ValueError("a pseudonym key is required")
        self._key = key.encode()

    def __call__(self, person_key: str) -> str:
        digest = hmac.new(self._key, person_key.encode(), hashlib.sha256).hexdigest()
        return "p" + digest[:20]


def age_at(birth_date: dt.date, day: dt.date) -> int:
    """Completed years on `day`, pooled at 90."""
    years = day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))
    return min(years, AGE_CEILING)
