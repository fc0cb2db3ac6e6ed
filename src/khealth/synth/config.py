"""Settings of one synthetic city: size, seed, the fixed "today", and the identity-noise rates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class NoiseRates:
    """Probabilities applied to each facility Patient (see docs/synth.md, "Identity noise").

    Rates are per facility registration, independent of each other, so a Patient can carry
    several kinds of noise at once. The ground-truth file records which were applied.
    """

    name_typo: float = 0.03
    birth_date_error: float = 0.02
    address_changed: float = 0.10
    phone_changed: float = 0.08
    rrn_missing: float = 0.03
    duplicate_registration: float = 0.01

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"noise rate {name} must be within [0, 1], got {value!r}")


@dataclass(frozen=True)
class SynthConfig:
    """Everything that determines the output: same config, same bytes."""

    citizens: int = 1000
    seed: int = 1
    today: dt.date = dt.date(2026, 11, 29)
    history_years: int = 10
    noise: NoiseRates = field(default_factory=NoiseRates)
    # DICOM files are real bytes on disk; cap them so that a full city stays small.
    dicom_max_studies: int = 100
    # EMS incidents and ED capacity cover the last `emergency_days` days before `today`.
    emergency_days: int = 7
    capacity_interval_minutes: int = 60
    # Share of facilities (hospitals and above) that also send HL7 v2 messages.
    hl7v2_share: float = 0.3
    # Per-facility transaction Bundles (`bundles/`), at most `bundle_size` entries each.
    bundles: bool = False
    bundle_size: int = 500

    def __post_init__(self) -> None:
        if self.citizens < 0:
            raise ValueError(f"citizens must be >= 0, got {self.citizens}")
        if self.history_years < 1:
            raise ValueError(f"history_years must be >= 1, got {self.history_years}")
        if self.bundle_size < 1:
            raise ValueError(f"bundle_size must be >= 1, got {self.bundle_size}")
        if self.emergency_days < 0:
            raise ValueError(f"emergency_days must be >= 0, got {self.emergency_days}")

    @property
    def history_start(self) -> dt.date:
        return self.today.replace(year=self.today.year - self.history_years)
