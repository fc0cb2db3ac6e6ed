"""A versioned model registry on disk.

    DIR/registry/registry.json                      index: every model's versions and the latest
    DIR/registry/<model>/<version>/boosted.joblib   the fitted estimators
    DIR/registry/<model>/<version>/logistic.joblib
    DIR/registry/<model>/<version>/metrics.json     held-out metrics, subgroups, comparisons
    DIR/registry/<model>/<version>/features.json    feature names in column order
    DIR/registry/<model>/<version>/config.json      training configuration
    DIR/registry/<model>/<version>/data.json        data hash and cohort sizes
    DIR/registry/<model>/<version>/manifest.json    SHA-256 of every file above
    DIR/registry/<model>/<version>/model-card.md

The version is a content hash: SHA-256 over the manifest (so over the model bytes, metrics,
features, configuration and data hash), first 16 hex digits. Same data and configuration → same
version. Loading checks every file against the manifest before unpickling: a pickle runs code
when loaded, so only bytes the registry wrote are accepted. No wall-clock time is recorded, so
that re-running a training reproduces the registry byte for byte.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib  # type: ignore[import-untyped]

from khealth.cds.training.models import Estimator
from khealth.cds.training.pipeline import TrainingResult


class RegistryError(Exception):
    """A missing model or version, or a file that does not match the manifest."""


def _json_bytes(value: object) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()


def _model_bytes(model: Estimator) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    return buffer.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def entry_files(result: TrainingResult) -> dict[str, bytes]:
    files = {f"{name}.joblib": _model_bytes(model) for name, model in result.models.items()}
    files["metrics.json"] = _json_bytes(result.metrics)
    files["features.json"] = _json_bytes(list(result.features))
    files["config.json"] = _json_bytes({"outcome": result.outcome, **result.config.as_json()})
    cohort = result.metrics["cohort"]
    files["data.json"] = _json_bytes({"data_hash": result.data_hash, **cohort})
    return files


def version_of(manifest: dict[str, str]) -> str:
    return sha256(_json_bytes(manifest))[:16]


def version_for(result: TrainingResult) -> str:
    """The version `register` will give this result (for a card written before registering)."""
    return version_of({name: sha256(data) for name, data in sorted(entry_files(result).items())})


def register(result: TrainingResult, root: Path, card: str | None = None) -> str:
    """Write the entry (idempotent: the same content lands in the same version) and update the
    index; returns the version."""
    files = entry_files(result)
    manifest = {name: sha256(data) for name, data in sorted(files.items())}
    version = version_of(manifest)
    directory = root / result.outcome / version
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (directory / name).write_bytes(data)
    (directory / "manifest.json").write_bytes(_json_bytes(manifest))
    if card is not None:
        (directory / "model-card.md").write_text(card, encoding="utf-8")
    _update_index(root, result, version)
    return version


def _update_index(root: Path, result: TrainingResult, version: str) -> None:
    path = root / "registry.json"
    index: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {"models": {}}
    model = index["models"].setdefault(result.outcome, {"versions": {}})
    held_out = result.metrics["held_out"]
    model["versions"][version] = {
        "data_hash": result.data_hash,
        "citizens": result.config.data.citizens,
        "seed": result.config.data.seed,
        "held_out_auroc": {name: held_out[name]["auroc"] for name in held_out},
    }
    model["latest"] = version
    path.write_bytes(_json_bytes(index))


@dataclass(frozen=True)
class RegisteredModel:
    outcome: str
    version: str
    features: tuple[str, ...]
    models: dict[str, Estimator]
    metrics: dict[str, Any]


def load(root: Path, outcome: str, version: str | None = None) -> RegisteredModel:
    index_path = root / "registry.json"
    if not index_path.exists():
        raise RegistryError(f"no registry at {root}")
    models = json.loads(index_path.read_text())["models"]
    if outcome not in models:
        raise RegistryError(f"no model {outcome!r} in the registry")
    version = version or models[outcome]["latest"]
    directory = root / outcome / str(version)
    manifest = json.loads((directory / "manifest.json").read_text())
    if version_of(manifest) != version:
        raise RegistryError(f"manifest of {outcome}/{version} does not match its version")
    files = {}
    for name, digest in manifest.items():
        data = (directory / name).read_bytes()
        if sha256(data) != digest:
            raise RegistryError(f"{outcome}/{version}/{name} does not match the manifest")
        files[name] = data
    return RegisteredModel(
        outcome,
        str(version),
        tuple(json.loads(files["features.json"])),
        {
            name.removesuffix(".joblib"): joblib.load(io.BytesIO(data))
            for name, data in files.items()
            if name.endswith(".joblib")
        },
        json.loads(files["metrics.json"]),
    )
