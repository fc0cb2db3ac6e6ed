"""The one error triage reports: an assessment field out of range or inconsistent."""

from __future__ import annotations

from khealth.core.errors import Issue, KhealthError


class AssessmentError(KhealthError):
    """422: an assessment field is outside its plausible range, or a time is naive or in the
    future. Each issue's ``expression`` names the field; the text never repeats the value
    (a clinical value must not reach the logs)."""

    def __init__(self, issues: list[Issue] | None = None, status: int = 422) -> None:
        super().__init__(issues or [], status)

    @classmethod
    def for_field(cls, name: str, diagnostics: str) -> AssessmentError:
        return cls([Issue("value", diagnostics, (name,))])
