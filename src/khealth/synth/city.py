"""The library API: generate a city as a stream of resources, or write it to a directory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from khealth.synth.citizens import Citizen, CitizenFactory
from khealth.synth.config import SynthConfig
from khealth.synth.facilities import Facility, FacilityIndex, build_facilities
from khealth.synth.facility_resources import facility_resources
from khealth.synth.history import CitizenOutput, MrnCounters
from khealth.synth.records import citizen_history

Resource = dict[str, Any]


@dataclass(frozen=True)
class CitizenRecords:
    citizen: Citizen
    output: CitizenOutput


class City:
    """Facilities (small, in memory) and a lazy stream of citizens with their records."""

    def __init__(self, config: SynthConfig) -> None:
        self.config = config
        self.facilities: list[Facility] = build_facilities(
            config.seed, hl7v2_share=config.hl7v2_share
        )
        self.index = FacilityIndex(self.facilities)

    def facility_resources(self) -> Iterator[Resource]:
        for facility in self.facilities:
            yield from facility_resources(facility)

    def citizens(self, start: int = 0, stop: int | None = None) -> Iterator[CitizenRecords]:
        """Citizens `start` … `stop - 1` with their records; a shard equals that slice of a
        whole run, so shards can be generated in separate processes."""
        for citizen in CitizenFactory(self.config).citizens(start, stop):
            mrns = MrnCounters(self.config.seed, citizen.index)
            yield CitizenRecords(citizen, citizen_history(citizen, self.config, self.index, mrns))


def generate_city(config: SynthConfig) -> Iterator[Resource]:
    """Every FHIR resource of the city: facilities first, then citizen by citizen.

    Streams with bounded memory; suitable for loading straight into a store.
    """
    city = City(config)
    yield from city.facility_resources()
    for records in city.citizens():
        yield from records.output.resources
