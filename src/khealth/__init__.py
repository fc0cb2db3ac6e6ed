"""khealth: a city-wide FHIR R4 medical data platform."""

__version__ = "0.1.0"
