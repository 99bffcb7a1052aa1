"""The paper's LLM scorer: a causal LM (with the QLoRA adapter of a score-prediction job) reads the
whole dialogue and writes the 20 item scores. It is the "llm" backend of ``models_ml.scoring``.

The model comes from the active ``scorer`` model version (``models_ml.finetuning``), which a finished
score-prediction fine-tuning job registers; an OpenAI-compatible endpoint configured in
``KOKORO_GENERATION_BACKENDS["scorer"]`` also works (zero-shot, as the paper's GPT-4o baseline).
Screening items are not predicted by this backend (the paper did not attempt them): the total is the
plain sum rule with no screening flag.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.utils.translation import gettext_lazy as _

from feedback.items import compute_total
from models_ml.jobs.cache import cached_backend
from models_ml.llm.backends import GenerationBackend, GenerationError
from models_ml.llm.data import Turn, format_transcript, parse_scores
from models_ml.llm.prompts import SCORE_SYSTEM_PROMPT
from models_ml.scoring.base import ScorePrediction, ScorerError
from models_ml.scoring.records import LabelledDialogue

ERR_NO_SCORER_MODEL = _("No LLM scorer model is configured: finish a score-prediction fine-tuning job first.")
ERR_GENERATION = _("The LLM scorer could not generate: %(reason)s")
ERR_UNPARSABLE = _("The LLM scorer's answer did not contain 20 item scores.")

# Greedy decoding: a score is a measurement, not a creative reply.
GENERATION_PARAMS: dict[str, Any] = {"max_new_tokens": 400, "do_sample": False, "temperature": 0.0}


def dialogue_turns(dialogue: LabelledDialogue) -> list[Turn]:
    """Messages -> turns, consecutive messages of one speaker merged as in training."""
    turns: list[Turn] = []
    for message in dialogue.messages:
        text = message.text.strip()
        if not text:
            continue
        if turns and turns[-1].role == message.role:
            turns[-1] = Turn(message.role, turns[-1].text + "\n" + text)
        else:
            turns.append(Turn(message.role, text))
    return turns


def score_messages(dialogue: LabelledDialogue) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": SCORE_SYSTEM_PROMPT},
        {"role": "user", "content": format_transcript(dialogue_turns(dialogue))},
    ]


class LLMScorer:
    name = "llm"

    def __init__(self, backend: GenerationBackend, model_version: str) -> None:
        self.backend = backend
        self.model_version = model_version

    def predict(self, dialogue: LabelledDialogue) -> ScorePrediction:
        try:
            text = self.backend.generate(score_messages(dialogue), **GENERATION_PARAMS)
        except GenerationError as exc:
            raise ScorerError(message=ERR_GENERATION % {"reason": exc}) from exc
        try:
            items = parse_scores(text)
        except ValueError:
            raise ScorerError(message=ERR_UNPARSABLE) from None
        return ScorePrediction(
            items=items,
            total=compute_total(items, s1=False, s2=False, s3=False),
            screening={},
            flags={},
            model_version=self.model_version,
        )


def _version_label(config: dict[str, Any]) -> str:
    return str(config.get("version_label") or config.get("adapter_path") or config.get("model") or "llm")


def load_scorer() -> LLMScorer:
    """The active LLM scorer (the registry's "llm" factory); raises ScorerError with a clear reason."""
    from models_ml.finetuning.selectors import NoModelError, generation_backend_config

    try:
        config = dict(generation_backend_config(kind="scorer"))
    except NoModelError:
        raise ScorerError(message=ERR_NO_SCORER_MODEL) from None
    if (config.get("backend") or "retrieval") == "retrieval":
        raise ScorerError(message=ERR_NO_SCORER_MODEL)
    label = _version_label(config)
    config.pop("version_label", None)
    try:
        # One copy per worker process (models_ml.jobs model cache), not a model load per prediction.
        backend = cached_backend(config)
    except GenerationError as exc:
        raise ScorerError(message=ERR_GENERATION % {"reason": exc}) from exc
    return LLMScorer(backend, label)


def evaluate_llm(
    records: Sequence[LabelledDialogue],
    *,
    test_seed: int,
    seeds: Sequence[int],
    log: Callable[[str], None] | None = None,
):
    """The paper's protocol for the LLM backend: the model is already fine-tuned (the seeds only vary
    train/validation, which a fixed adapter does not use), so the test split is scored once and the
    result is reported for each seed, giving a standard deviation of zero."""
    from models_ml.scoring.evaluation import evaluate_with_scorer

    return evaluate_with_scorer(load_scorer(), records, test_seed=test_seed, seeds=seeds, log=log)
