"""Synthetic Gwangju: a seeded, streaming generator of a Korean city's facilities, citizens and
their FHIR R4 records (see docs/synth.md)."""

from khealth.synth.city import City, generate_city
from khealth.synth.config import NoiseRates, SynthConfig
from khealth.synth.writer import OutputExistsError, write_city

__all__ = ["City", "NoiseRates", "OutputExistsError", "SynthConfig", "generate_city", "write_city"]
