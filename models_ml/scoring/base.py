"""The scorer interface: every backend ("cpu", later "llm") turns a dialogue into a ScorePrediction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from django.utils.translation import gettext_lazy as _

from kokoro_site.errors import ServiceError

from .records import LabelledDialogue

ERR_UNKNOWN_BACKEND = _("Unknown scorer backend: %(name)s.")
ERR_NO_MODEL = _("No auto-scorer has been trained yet.")
CODE_NO_MODEL = "no_model"  # a ScorerError with this code: the prediction waits for a scorer (not a failure)
ERR_NO_LANGUAGE_MODEL = _("No auto-scorer has been trained for the language %(language)s yet.")
ERR_MODEL_FILE_MISSING = _("The scorer model file is missing: %(path)s.")
ERR_MODEL_CHECKSUM = _("The scorer model file is corrupt (checksum mismatch): %(path)s.")
ERR_MODEL_UNREADABLE = _("The scorer model file cannot be read: %(path)s.")
ERR_TOO_FEW_MESSAGES = _("Too few messages to score (%(count)s; at least %(minimum)s needed).")
ERR_TOO_FEW_SESSIONS = _("Too few labelled sessions to train (%(count)s; at least %(minimum)s needed).")


class ScorerError(ServiceError):
    """A scorer cannot predict (no model, bad model file); the message is user-facing."""


@dataclass(frozen=True)
class ScorePrediction:
    items: list[int]  # 20 integers 0-5, in feedback.items.ITEMS order
    total: int  # feedback.items.compute_total(items, predicted flags)
    screening: dict[str, float]  # S1/S2/S3 -> probability
    flags: dict[str, bool] = field(default_factory=dict)  # S1/S2/S3 -> predicted flag
    model_version: str = ""


@runtime_checkable
class Scorer(Protocol):
    name: str
    model_version: str

    def predict(self, dialogue: LabelledDialogue) -> ScorePrediction: ...


_REGISTRY: dict[str, Callable[..., Scorer]] = {}
ORIGINAL_LANGUAGE = "ja"


def register_backend(name: str, factory: Callable[..., Scorer]) -> None:
    """A backend factory returns a ready scorer (its active model loaded) or raises ScorerError;
    for a session in another language than Japanese it is called with ``language=``."""
    _REGISTRY[name] = factory


def backend_names() -> list[str]:
    return sorted(_REGISTRY)


def get_scorer(name: str, *, language: str = ORIGINAL_LANGUAGE) -> Scorer:
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise ScorerError(message=ERR_UNKNOWN_BACKEND % {"name": name}) from None
    return factory() if language == ORIGINAL_LANGUAGE else factory(language=language)
