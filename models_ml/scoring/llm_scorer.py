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
from models_ml.scoring.base import CODE_NO_MODEL, ScorePrediction, ScorerError
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
        raise ScorerError(CODE_NO_MODEL, ERR_NO_SCORER_MODEL) from None
    if (config.get("backend") or "retrieval") == "retrieval":
        raise ScorerError(CODE_NO_MODEL, ERR_NO_SCORER_MODEL)
    label = _version_label(config)
    config.pop("version_label", None)
    try:
        # One copy per worker process (models_ml.jobs model cache), not a model load per prediction.
        backend = cached_backend(config)
    except GenerationError as exc:
        raise ScorerError(message=ERR_GENERATION % {"reason": exc}) from exc
    return LLMScorer(backend, label)


def scorer_for_version(version: Any) -> LLMScorer:
    """The LLM scorer of one model version (or of the settings' endpoint when ``version.pk == "settings"``)."""
    config = dict(version.backend_config())
    config.pop("version_label", None)
    try:
        backend = cached_backend(config)  # one copy per worker process (models_ml.jobs model cache)
    except GenerationError as exc:
        raise ScorerError(message=ERR_GENERATION % {"reason": exc}) from exc
    return LLMScorer(backend, str(getattr(version, "name", "") or f"#{version.pk}"))


def scorer_versions(version_ids: Sequence[int] | None = None) -> list[Any]:
    """The versions to evaluate: the given ones; else the newest active LLM scorer plus every other scorer version
    trained on the same held-out split (its other seeds); else the settings' zero-shot endpoint."""
    from types import SimpleNamespace

    from models_ml.finetuning.models import ModelVersion, resolve_backend_config
    from models_ml.finetuning.selectors import generation_backends_setting, model_versions
    from models_ml.scoring.llm_eval import ERR_NO_VERSION, ERR_NOT_SCORER, version_split

    if version_ids:
        versions = []
        for pk in version_ids:
            version = ModelVersion.objects.select_related("source_job").filter(pk=pk).first()
            if version is None:
                raise ScorerError(message=ERR_NO_VERSION.format(id=pk))
            if version.kind != "scorer" or version.backend == "retrieval":
                raise ScorerError(message=ERR_NOT_SCORER.format(id=pk))
            versions.append(version)
        return versions
    active = [v for v in model_versions(kind="scorer", active_only=True) if v.backend != "retrieval"]
    if active:
        primary = active[0]
        try:
            split = version_split(primary)
        except ValueError as exc:
            raise ScorerError(message=str(exc)) from None
        if split is None:
            return [primary]
        siblings = [primary]
        seeds = {split.get("seed")}
        for other in model_versions(kind="scorer").exclude(pk=primary.pk).filter(source_job__isnull=False):
            try:
                other_split = version_split(other)
            except ValueError:
                continue
            if other_split and other_split["test"] == split["test"] and other_split.get("seed") not in seeds:
                seeds.add(other_split.get("seed"))
                siblings.append(other)
        return sorted(siblings, key=lambda v: str(version_split(v).get("seed")))
    configured = generation_backends_setting().get("scorer") or {}
    if configured.get("backend") not in (None, "", "retrieval") and configured.get("base_url"):
        cfg = resolve_backend_config(configured)
        return [SimpleNamespace(pk="settings", name="settings endpoint", source_job=None, backend_config=lambda: cfg)]
    raise ScorerError(message=ERR_NO_SCORER_MODEL)


def evaluate_llm(
    records: Sequence[LabelledDialogue],
    *,
    test_seed: int | None,
    seeds: Sequence[int] = (),
    log: Callable[[str], None] | None = None,
    version_ids: Sequence[int] | None = None,
    id_space: str = "session",
):
    """The LLM backend without leakage (``models_ml.scoring.llm_eval``): each fine-tuned adapter on its own job's
    held-out test dialogues, one run per adapter (= per training seed); a zero-shot endpoint once on the CPU
    protocol's test split. ``seeds`` does not apply: an adapter's seed is its job's."""
    from models_ml.scoring.llm_eval import evaluate

    versions = scorer_versions(version_ids)
    try:
        return evaluate(
            records, test_seed=test_seed, versions=versions, scorer_for=scorer_for_version, id_space=id_space, log=log
        )
    except ValueError as exc:
        raise ScorerError(message=str(exc)) from None
