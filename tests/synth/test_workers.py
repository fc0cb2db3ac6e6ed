"""`--workers N` gives the same bytes as one worker."""

from __future__ import annotations

from pathlib import Path

from khealth.synth import SynthConfig, write_city

CONFIG = SynthConfig(
    citizens=90, seed=5, dicom_max_studies=6, emergency_days=1, bundles=True, bundle_size=50
)


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_three_workers_write_byte_identical_output_to_one_worker(tmp_path: Path) -> None:
    one, three = tmp_path / "one", tmp_path / "three"
    first = write_city(CONFIG, one, progress=False, workers=1)
    again = write_city(CONFIG, three, progress=False, workers=3)
    assert first == again
    assert _tree(one) == _tree(three)
    assert first["dicom_studies"] == CONFIG.dicom_max_studies
    assert not (three / ".shards").exists()


def test_a_shard_of_citizens_equals_that_slice_of_the_whole_run() -> None:
    from khealth.synth import City

    whole = [r.output.resources for r in City(CONFIG).citizens()]
    parts = [r.output.resources for r in City(CONFIG).citizens(0, 31)]
    parts += [r.output.resources for r in City(CONFIG).citizens(31, None)]
    assert whole == parts
