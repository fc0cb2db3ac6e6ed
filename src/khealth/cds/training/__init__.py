"""Trained risk models with model cards (issue 7, part 3): a de-identified person-level table
from the synthetic city, logistic and gradient-boosted models per outcome, held-out metrics,
subgroups, comparison with the published equations, explanations, a versioned registry."""

from khealth.cds.training.dataset import DataConfig, PersonTable, build_table
from khealth.cds.training.outcomes import OUTCOMES
from khealth.cds.training.pipeline import TrainConfig, TrainingResult, train_outcome
from khealth.cds.training.registry import RegisteredModel, load, register
from khealth.cds.training.service import train

__all__ = [
    "OUTCOMES",
    "DataConfig",
    "PersonTable",
    "RegisteredModel",
    "TrainConfig",
    "TrainingResult",
    "build_table",
    "load",
    "register",
    "train",
    "train_outcome",
]
