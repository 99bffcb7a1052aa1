"""Reads of the fine-tuning app: jobs, training records, model versions and the generation backend to use."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Count, QuerySet
from django.utils.translation import gettext_lazy as _

from feedback.dataset.exporter import iter_dialogues
from feedback.dataset.schema import REVIEW_KEYS_JP
from feedback.dataset.selectors import ExportOptions, export_feedback_queryset, translated_filter
from kokoro_site.errors import ServiceError

from .models import (
    Backend,
    FineTuneJob,
    JobStatus,
    ModelKind,
    ModelVersion,
    RetrievalIndexJob,
    RoleCard,
    resolve_backend_config,
)

ERR_NO_MODEL = _(
    "No %(kind)s model is available yet: staff can build the retrieval partner on the Models page or run the "
    "set-up, or activate a trained model version."
)
ERR_VERSION_UNAVAILABLE = _("This model version does not exist or is not active.")


class NoModelError(ServiceError, LookupError):
    """No generation model of the asked kind is active or configured (code ``no_model``)."""


def job_list() -> QuerySet[FineTuneJob]:
    return FineTuneJob.objects.select_related("created_by").defer("loss_history", "log_tail")


def retrieval_index_jobs(*, limit: int = 5) -> list[RetrievalIndexJob]:
    """The newest retrieval-index builds (the Models page shows them with their live progress)."""
    return list(RetrievalIndexJob.objects.select_related("model_version")[:limit])


def job_get(job_id: int) -> FineTuneJob:
    return FineTuneJob.objects.select_related("created_by", "retry_of").get(pk=job_id)


def job_counts() -> list[tuple[str, str, int]]:
    """(status, its translated label, number of jobs) for every status, in the choices' order."""
    counts = dict(FineTuneJob.objects.values_list("status").annotate(n=Count("pk")).order_by())
    return [(status, label, counts.get(status, 0)) for status, label in JobStatus.choices]


def _options(*, data_subset: str, quality_filter: bool, include_synthetic: bool) -> ExportOptions:
    return ExportOptions(subset=data_subset, quality_filter=quality_filter, include_synthetic=include_synthetic)


def training_dialogue_count(*, data_subset: str, quality_filter: bool = False, include_synthetic: bool = False) -> int:
    """Sessions with feedback that the dataset exporter would select (same subsets and quality filter)."""
    options = _options(data_subset=data_subset, quality_filter=quality_filter, include_synthetic=include_synthetic)
    return export_feedback_queryset(options).count()


def subset_counts() -> dict[str, int]:
    return {s: training_dialogue_count(data_subset=s) for s in ("full", "low", "high", "all")}


def job_export_options(job: FineTuneJob) -> ExportOptions:
    return _options(
        data_subset=job.data_subset, quality_filter=job.quality_filter, include_synthetic=job.include_synthetic
    )


def job_training_records(job: FineTuneJob) -> list[dict[str, Any]]:
    """The job's dialogues in the KokoroChat format (the exporter's own objects), ids = evaluation ids."""
    return [dict(obj, id=str(eid)) for eid, obj in iter_dialogues(export_feedback_queryset(job_export_options(job)))]


RETRIEVAL_OPTIONS = ExportOptions("high")


ORIGINAL_LANGUAGE = "ja"


def _retrieval_queryset(language: str):
    qs = export_feedback_queryset(RETRIEVAL_OPTIONS)
    return qs if language == ORIGINAL_LANGUAGE else qs.filter(translated_filter(language))


def retrieval_records(*, language: str = ORIGINAL_LANGUAGE) -> list[dict[str, Any]]:
    """High-scored (70–98) dialogues: the retrieval partner's answers; in another language than Japanese,
    their translations (the imported Multilingual KokoroChat) as the utterances."""
    if language == ORIGINAL_LANGUAGE:
        return [dict(obj, id=str(eid)) for eid, obj in iter_dialogues(_retrieval_queryset(language))]
    out = []
    for eid, obj in iter_dialogues(_retrieval_queryset(language), [], language=language):
        dialogue = [{"role": m["role"], "time": m["time"], "utterance": m["content"]} for m in obj["dialogue"]]
        review_jp = dict(zip(REVIEW_KEYS_JP, obj["review_by_client"].values(), strict=True))  # same order
        out.append({"dialogue": dialogue, "topic": obj["topic"], "review_by_client_jp": review_jp, "id": str(eid)})
    return out


def version_language(version: ModelVersion) -> str:
    """The language a partner answers in (``config["language"]``; Japanese when unset)."""
    return str(version.config.get("language") or ORIGINAL_LANGUAGE)


def partner_available(*, kind: str, language: str = ORIGINAL_LANGUAGE) -> bool:
    """Whether a practice partner of ``kind`` can answer now in ``language``: a model is active or configured,
    or the retrieval partner can be built on demand from High-scored sessions (or their translations)."""
    try:
        generation_backend_config(kind=kind, language=language)
    except NoModelError:
        return _retrieval_queryset(language).exists()
    return True


def model_versions(*, kind: str | None = None, active_only: bool = False) -> QuerySet[ModelVersion]:
    qs = ModelVersion.objects.select_related("source_job")
    if kind:
        qs = qs.filter(kind=kind)
    if active_only:
        qs = qs.filter(is_active=True)
    return qs


def role_cards(*, active_only: bool = False, language: str | None = None) -> QuerySet[RoleCard]:
    qs = RoleCard.objects.all()
    if language is not None:
        qs = qs.filter(language=language)
    return qs.filter(is_active=True) if active_only else qs


def generation_backends_setting() -> dict[str, dict[str, Any]]:
    return dict(settings.KOKORO_GENERATION_BACKENDS)


def generation_backends_overview() -> list[tuple[str, dict[str, Any] | None]]:
    """(kind label, its settings entry or None) for the models page: an entry built from unset environment
    variables is shown as not configured, since ``generation_backend_config`` skips it too."""
    configured = generation_backends_setting()
    rows = []
    for kind, label in ModelKind.choices:
        entry = configured.get(kind)
        rows.append((label, entry if entry and _complete(entry) else None))
    return rows


def generation_backend_config(
    *, kind: str, version_id: int | None = None, language: str = ORIGINAL_LANGUAGE
) -> dict[str, Any]:
    """The ``get_backend`` config for a practice partner (kind counselor / client) or the LLM scorer.

    Order: the chosen active version; else the newest active non-retrieval version of ``kind``; else
    ``settings.KOKORO_GENERATION_BACKENDS[kind]``; else the newest active retrieval index. Raises NoModelError.
    In another ``language`` than Japanese only the active versions of that language count (e.g. the
    English retrieval index, ``build_retrieval_index --language en``)."""
    if version_id is not None:
        version = ModelVersion.objects.filter(pk=version_id, kind=kind, is_active=True).first()
        if version is None:
            raise NoModelError("no_model", str(ERR_VERSION_UNAVAILABLE))
        return version.backend_config()
    active = [v for v in model_versions(kind=kind, active_only=True) if version_language(v) == language]
    if language != ORIGINAL_LANGUAGE:
        if active:
            return active[0].backend_config()
        raise NoModelError("no_model", str(ERR_NO_MODEL % {"kind": kind}))
    trained = [v for v in active if v.backend != Backend.RETRIEVAL]
    if trained:
        return trained[0].backend_config()
    configured = generation_backends_setting().get(kind)
    if configured and _complete(configured):
        return resolve_backend_config(configured)
    if active:
        return active[0].backend_config()
    raise NoModelError("no_model", str(ERR_NO_MODEL % {"kind": kind}))


_REQUIRED = {"openai": ("base_url", "model"), "hf": ("base_model",), "retrieval": ("index_path",)}


def _complete(config: dict[str, Any]) -> bool:
    """A settings entry built from unset environment variables (empty base_url, ...) does not count."""
    return all(config.get(k) for k in _REQUIRED.get(config.get("backend") or "retrieval", ()))
