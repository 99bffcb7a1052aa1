"""Writes of the partners app: role cards, model versions, fine-tuning jobs (create / start / cancel / retry /
run / reap) and the retrieval index."""

from __future__ import annotations

import logging
import math
import threading
import time
import types
import typing
import uuid
from collections import deque
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from feedback.dataset.exporter import export_audit_create
from models_ml.llm.config import TASKS, JobConfig, QLoRAConfig, TrainingConfig
from models_ml.llm.role_cards import RoleCard as CoreRoleCard
from models_ml.llm.role_cards import RoleCardError, example_role_cards

from . import selectors
from .models import (
    Backend,
    DataSubset,
    FineTuneJob,
    JobStatus,
    ModelKind,
    ModelVersion,
    RoleCard,
)

logger = logging.getLogger(__name__)

LOG_TAIL_LINES = 50
MAX_HISTORY_POINTS = 1000
MIN_DIALOGUES = 3
MAX_BASE_MODEL_CHARS = 500
MAX_SYSTEM_PROMPT_CHARS = 4000
ROLE_CARD_TEXT_FIELDS = (
    "gender",
    "education",
    "occupation",
    "marital_status",
    "family",
    "resistance",
    "chief_complaint",
)

# --- error messages (tests reuse them) ------------------------------------------------------------
ERR_HP_NOT_OBJECT = _("Hyper-parameters must be a JSON object.")
ERR_HP_BAD_JSON = _("Hyper-parameters are not valid JSON: %(detail)s")
ERR_HP_UNKNOWN = _("Unknown hyper-parameter(s): %(names)s.")
ERR_HP_SECTION = _("Hyper-parameter section “%(section)s” must be a JSON object.")
ERR_HP_TYPE = _("Hyper-parameter %(name)s must be %(expected)s (got %(got)s).")
ERR_HP_RANGE = _("Hyper-parameter %(name)s %(reason)s.")
ERR_HP_INVALID = _("Invalid hyper-parameters: %(detail)s")
ERR_TASK = _("Unknown task: choose “response” or “score”.")
ERR_SUBSET = _("Unknown training data subset.")
ERR_TARGET_ROLE = _("The model can learn to play the counselor or the client only.")
ERR_SYSTEM_PROMPT = _("The system prompt must be text of at most %(max)s characters.")
ERR_BASE_MODEL = _("Give the base model as a local folder or a model name the GPU worker can load.")
ERR_BASE_MODEL_LONG = _("The base model path is too long (at most %(max)s characters).")
ERR_MAX_STEPS = _("Max steps must be a whole number of at least 1 (or empty for the full schedule).")
ERR_TOO_FEW_DIALOGUES = _(
    "Only %(count)s dialogue(s) with feedback match this training data; at least %(minimum)s are needed."
)
ERR_START_STATE = _("Only a queued job can be started.")
ERR_CANCEL_STATE = _("This job has already finished and cannot be cancelled.")
ERR_RETRY_STATE = _("Only a failed or cancelled job can be retried.")
ERR_WORKER_LOST = _("Worker lost: the worker stopped sending heartbeats while running this job. Retry it to run again.")
ERR_WORKER_LOST_SIGNAL = _("Worker lost: the worker process running this job died. Retry it to run again.")
ERR_TIME_LIMIT = _("The job ran past its time limit and was stopped.")
ERR_OUT_OF_MEMORY = _("The GPU ran out of memory: lower the batch size or the maximum length.")
ERR_UNEXPECTED = _("The job failed unexpectedly: %(detail)s")
ERR_TRAINING = _("Training failed: %(detail)s")

ERR_RC_INVALID = _("Invalid role card: %(detail)s")
ERR_RC_NAME = _("Give the role card a name (at most 60 characters).")
ERR_RC_NAME_TAKEN = _("A role card with this name already exists.")
ERR_RC_NUL = _("Text must not contain NUL or control characters.")

ERR_MV_CONFIG = _("The %(backend)s backend needs %(needed)s.")
ERR_MV_SECRET = _("Do not store API keys in the database: give the NAME of the environment variable in api_key_env.")
ERR_MV_KIND = _("Unknown model kind.")
ERR_MV_BACKEND = _("Unknown backend.")
ERR_RETRIEVAL_EMPTY = _("No High-scored (70–98) session with feedback to index yet.")


class PartnersError(Exception):
    """A user-facing error: nothing was saved."""

    def __init__(self, message: Any) -> None:
        super().__init__(str(message))
        self.message = str(message)


# --- settings --------------------------------------------------------------------------------------


def _setting(name: str, default: float) -> float:
    import os

    value = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(name, default)
    return float(value)


def heartbeat_interval_s() -> float:
    return _setting("KOKORO_FINETUNE_HEARTBEAT_S", 10)


def stale_after_s() -> float:
    """A running job whose heartbeat is older than this is considered lost (model loading included)."""
    return _setting("KOKORO_FINETUNE_STALE_S", 600)


def progress_write_s() -> float:
    return _setting("KOKORO_FINETUNE_PROGRESS_WRITE_S", 2)


def cancel_poll_s() -> float:
    return _setting("KOKORO_FINETUNE_CANCEL_POLL_S", 1)


def artifacts_dir() -> Path:
    return Path(settings.KOKORO_ARTIFACTS_DIR)


# --- hyper-parameters ------------------------------------------------------------------------------

_HP_TOP_KEYS = {"base_model", "task", "qlora", "training", "target_role", "system_prompt"}
_HP_SECTIONS: dict[str, type] = {"qlora": QLoRAConfig, "training": TrainingConfig}
# Range checks the core does not make (it checks the others and raises ValueError).
_RANGES: dict[str, tuple[Any, typing.Callable[[Any], bool]]] = {
    "training.num_train_epochs": (_("must be greater than 0"), lambda v: v > 0),
    "training.warmup_steps": (_("must be 0 or more"), lambda v: v >= 0),
    "training.logging_steps": (_("must be at least 1"), lambda v: v >= 1),
    "training.gradient_accumulation_steps": (_("must be at least 1"), lambda v: v >= 1),
    "training.per_device_eval_batch_size": (_("must be at least 1"), lambda v: v >= 1),
    "training.save_total_limit": (_("must be at least 1"), lambda v: v >= 1),
    "training.learning_rate": (_("must be between 0 and 1"), lambda v: 0 < v < 1),
    "qlora.lora_r": (_("must be between 1 and 1024"), lambda v: 1 <= v <= 1024),
}
_TYPE_NAMES = {bool: "true/false", int: "a whole number", float: "a number", str: "text"}


def default_hyperparameters(task: str, base_model: str = "") -> dict[str, Any]:
    """Paper defaults (KokoroChat Appendix D) for the form: everything but base_model."""
    data = JobConfig(base_model=base_model or "-", task=task).to_dict()
    data.pop("base_model")
    data.pop("task")
    data["training"].pop("task")
    data["training"].pop("max_steps")
    return data


def _type_ok(hint: Any, value: Any) -> bool:
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if hint is str:
        return isinstance(value, str) and "\x00" not in value
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is list:
        return isinstance(value, list) and all(_type_ok(args[0], v) for v in value)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(a, value) for a in args)
    return False


def _type_name(hint: Any) -> str:
    if hint in _TYPE_NAMES:
        return _TYPE_NAMES[hint]
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is list:
        return "a list of " + _type_name(args[0])
    if origin in (typing.Union, types.UnionType):
        return " or ".join("null" if a is type(None) else _type_name(a) for a in args)
    return str(hint)


def _got(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def validate_hyperparameters(*, task: str, base_model: str, hyperparameters: Any, max_steps: int | None) -> dict:
    """Check types and ranges and build the JobConfig; returns ``JobConfig.to_dict()`` (stored on the job and
    passed to ``train``). Raises PartnersError with one clear message."""
    if task not in TASKS:
        raise PartnersError(ERR_TASK)
    if not isinstance(hyperparameters, dict):
        raise PartnersError(ERR_HP_NOT_OBJECT)
    unknown = sorted(set(hyperparameters) - _HP_TOP_KEYS)
    if unknown:
        raise PartnersError(ERR_HP_UNKNOWN % {"names": ", ".join(unknown)})
    sections: dict[str, dict] = {}
    for section, cls in _HP_SECTIONS.items():
        values = hyperparameters.get(section)
        values = {} if values is None else values
        if not isinstance(values, dict):
            raise PartnersError(ERR_HP_SECTION % {"section": section})
        hints = typing.get_type_hints(cls)
        bad = sorted(f"{section}.{k}" for k in values if k not in hints)
        if bad:
            raise PartnersError(ERR_HP_UNKNOWN % {"names": ", ".join(bad)})
        for name, value in values.items():
            if not _type_ok(hints[name], value):
                raise PartnersError(
                    ERR_HP_TYPE % {"name": f"{section}.{name}", "expected": _type_name(hints[name]), "got": _got(value)}
                )
            check = _RANGES.get(f"{section}.{name}")
            if check and not check[1](value):
                raise PartnersError(ERR_HP_RANGE % {"name": f"{section}.{name}", "reason": check[0]})
        sections[section] = dict(values)
    target_role = hyperparameters.get("target_role", "counselor")
    if target_role not in ("counselor", "client"):
        raise PartnersError(ERR_TARGET_ROLE)
    system_prompt = hyperparameters.get("system_prompt")
    if system_prompt is not None and (
        not isinstance(system_prompt, str) or len(system_prompt) > MAX_SYSTEM_PROMPT_CHARS or "\x00" in system_prompt
    ):
        raise PartnersError(ERR_SYSTEM_PROMPT % {"max": MAX_SYSTEM_PROMPT_CHARS})
    if max_steps is not None and (isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1):
        raise PartnersError(ERR_MAX_STEPS)
    training = sections["training"]
    training.pop("task", None)
    training["max_steps"] = max_steps or -1
    try:
        cfg = JobConfig.from_dict(
            {
                "base_model": base_model,
                "task": task,
                "qlora": sections["qlora"],
                "training": training,
                "target_role": target_role,
                "system_prompt": system_prompt or None,
            }
        )
    except (ValueError, TypeError) as exc:
        raise PartnersError(ERR_HP_INVALID % {"detail": exc}) from None
    return cfg.to_dict()


def _clean_base_model(base_model: Any) -> str:
    if not isinstance(base_model, str) or not base_model.strip():
        raise PartnersError(ERR_BASE_MODEL)
    base_model = base_model.strip()
    if len(base_model) > MAX_BASE_MODEL_CHARS:
        raise PartnersError(ERR_BASE_MODEL_LONG % {"max": MAX_BASE_MODEL_CHARS})
    if any(ord(c) < 32 for c in base_model):
        raise PartnersError(ERR_BASE_MODEL)
    return base_model


# --- fine-tuning jobs: create / start / cancel / retry ---------------------------------------------


@transaction.atomic
def finetune_job_create(
    *,
    task: str,
    base_model: str,
    data_subset: str | None = None,
    quality_filter: bool = False,
    include_synthetic: bool = False,
    hyperparameters: dict | None = None,
    max_steps: int | None = None,
    created_by: Any = None,
    retry_of: FineTuneJob | None = None,
) -> FineTuneJob:
    """Validate everything, then store a queued job (not yet sent to a worker: see finetune_job_start)."""
    if task not in TASKS:
        raise PartnersError(ERR_TASK)
    base_model = _clean_base_model(base_model)
    if data_subset is None:
        data_subset = DataSubset.FULL if task == "response" else DataSubset.ALL
    if data_subset not in DataSubset.values:
        raise PartnersError(ERR_SUBSET)
    hp = hyperparameters if hyperparameters is not None else default_hyperparameters(task)
    config = validate_hyperparameters(task=task, base_model=base_model, hyperparameters=hp, max_steps=max_steps)
    count = selectors.training_dialogue_count(
        data_subset=data_subset, quality_filter=quality_filter, include_synthetic=include_synthetic
    )
    if count < MIN_DIALOGUES:
        raise PartnersError(ERR_TOO_FEW_DIALOGUES % {"count": count, "minimum": MIN_DIALOGUES})
    user = created_by if created_by is not None and getattr(created_by, "is_authenticated", False) else None
    return FineTuneJob.objects.create(
        task=task,
        data_subset=data_subset,
        quality_filter=quality_filter,
        include_synthetic=include_synthetic,
        base_model=base_model,
        hyperparameters=config,
        max_steps=max_steps,
        created_by=user,
        retry_of=retry_of,
        log_tail=[_line(f"Queued: {count} dialogues ({data_subset}{', quality filter' if quality_filter else ''})")],
    )


@transaction.atomic
def finetune_job_start(*, job: FineTuneJob) -> FineTuneJob:
    """Send a queued job to the ``gpu`` queue once the surrounding transaction commits."""
    job = FineTuneJob.objects.select_for_update().get(pk=job.pk)
    if job.status != JobStatus.QUEUED:
        raise PartnersError(ERR_START_STATE)
    job.celery_task_id = str(uuid.uuid4())
    job.save(update_fields=["celery_task_id", "updated_at"])
    job_id, task_id = job.pk, job.celery_task_id
    transaction.on_commit(lambda: _dispatch(job_id, task_id))
    return job


def _dispatch(job_id: int, task_id: str) -> None:
    from celery import current_app

    from .tasks import GPU_QUEUE, gpu_finetune

    if current_app.conf.task_always_eager and getattr(settings, "KOKORO_FINETUNE_EMBEDDED_THREAD", True):
        # Embedded mode has no worker: run the job in a background thread so that the request returns.
        def run() -> None:
            try:
                gpu_finetune.apply(args=[job_id], task_id=task_id)
            finally:
                connection.close()

        threading.Thread(target=run, name=f"finetune-{job_id}", daemon=True).start()
    else:
        gpu_finetune.apply_async(args=[job_id], task_id=task_id, queue=GPU_QUEUE)


@transaction.atomic
def finetune_job_cancel(*, job: FineTuneJob) -> FineTuneJob:
    """A queued job is cancelled at once; a running one gets a flag that the training loop polls."""
    job = FineTuneJob.objects.select_for_update().get(pk=job.pk)
    now = timezone.now()
    if job.status == JobStatus.QUEUED:
        job.status = JobStatus.CANCELLED
        job.cancel_requested = True
        job.finished_at = now
        job.log_tail = [*job.log_tail, _line("Cancelled before it started.")][-LOG_TAIL_LINES:]
    elif job.status == JobStatus.RUNNING:
        job.cancel_requested = True
        job.log_tail = [*job.log_tail, _line("Cancellation requested: stopping after the current step.")][
            -LOG_TAIL_LINES:
        ]
    else:
        raise PartnersError(ERR_CANCEL_STATE)
    job.save(update_fields=["status", "cancel_requested", "finished_at", "log_tail", "updated_at"])
    return job


@transaction.atomic
def finetune_job_retry(*, job: FineTuneJob, created_by: Any = None, max_steps: int | None = None) -> FineTuneJob:
    """A new queued job with the same settings (the failed one stays as it was, for the record);
    ``max_steps`` optionally changes the length of the new run."""
    if job.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
        raise PartnersError(ERR_RETRY_STATE)
    hp = dict(job.hyperparameters)
    for key in ("base_model", "task"):
        hp.pop(key, None)
    hp["training"] = {k: v for k, v in hp.get("training", {}).items() if k not in ("task", "max_steps")}
    new = finetune_job_create(
        task=job.task,
        base_model=job.base_model,
        data_subset=job.data_subset,
        quality_filter=job.quality_filter,
        include_synthetic=job.include_synthetic,
        hyperparameters=hp,
        max_steps=max_steps if max_steps is not None else job.max_steps,
        created_by=created_by,
        retry_of=job,
    )
    return finetune_job_start(job=new)


# --- fine-tuning jobs: running (called by the Celery task) -----------------------------------------


def _line(text: str) -> str:
    return f"{timezone.localtime():%H:%M:%S} {text}"


@transaction.atomic
def finetune_job_claim(*, job_id: int, task_id: str = "", hostname: str = "") -> bool:
    """queued → running, once. A job that is no longer queued (cancelled, failed after a lost worker,
    or already run by a redelivered message) is not run again."""
    job = FineTuneJob.objects.select_for_update().filter(pk=job_id).first()
    if job is None or job.status != JobStatus.QUEUED or job.cancel_requested:
        return False
    now = timezone.now()
    job.status = JobStatus.RUNNING
    job.started_at = now
    job.heartbeat_at = now
    job.worker_hostname = (hostname or "")[:200]
    if task_id:
        job.celery_task_id = task_id
    job.phase = "starting"
    job.log_tail = [*job.log_tail, _line(f"Started on {job.worker_hostname or 'this process'}.")][-LOG_TAIL_LINES:]
    job.save()
    return True


class JobTracker:
    """Progress, heartbeat and cancellation for one running job. Database writes are throttled: progress at
    most every ``progress_write_s`` (and at every validation), heartbeats every ``heartbeat_interval_s``,
    cancellation flag reads every ``cancel_poll_s``. Only a job still ``running`` is ever updated."""

    def __init__(self, job: FineTuneJob) -> None:
        self.job_id = job.pk
        self.log: deque[str] = deque(job.log_tail, maxlen=LOG_TAIL_LINES)
        self.train_points: list[dict[str, Any]] = []
        self.eval_points: list[dict[str, Any]] = []
        self.step = 0
        self.total = 0
        self.epoch = 0.0
        self.eta: int | None = None
        self.phase = job.phase
        self.stop = False
        self._train_started: float | None = None
        self._last_write = 0.0
        self._last_beat = time.monotonic()
        self._last_poll = 0.0

    def _running(self):
        return FineTuneJob.objects.filter(pk=self.job_id, status=JobStatus.RUNNING)

    def note(self, text: str, *, phase: str | None = None) -> None:
        self.log.append(_line(text))
        if phase:
            self.phase = phase
        self.flush()

    def progress(self, step: int, total: int, logs: dict[str, Any]) -> None:
        now = time.monotonic()
        if self._train_started is None:
            self._train_started = now
            self.phase = "training"
            self.log.append(_line(f"Training: {total} steps."))
        self.step, self.total = step, total
        self.epoch = float(logs.get("epoch") or self.epoch)
        if step > 0 and total > step:
            self.eta = round((now - self._train_started) / step * (total - step))
        elif step >= total > 0:
            self.eta = 0
        force = step == 0 or step >= total
        point = {"step": step, "epoch": round(self.epoch, 3)}
        if "loss" in logs:
            self.train_points.append({**point, "loss": round(float(logs["loss"]), 5)})
            if len(self.train_points) > MAX_HISTORY_POINTS:
                self.train_points = self.train_points[::2]
            self.log.append(_line(f"step {step}/{total} loss {float(logs['loss']):.4f}" + _lr(logs)))
        if "eval_loss" in logs:
            self.eval_points.append({**point, "eval_loss": round(float(logs["eval_loss"]), 5)})
            self.log.append(_line(f"step {step}/{total} validation loss {float(logs['eval_loss']):.4f}"))
            force = True
        if "best_eval_loss" in logs:
            at = logs.get("best_step") or step
            self.log.append(
                _line(f"Best checkpoint (step {at}) reloaded: validation loss {logs['best_eval_loss']:.4f}")
            )
            force = True
        if force or now - self._last_write >= progress_write_s():
            self.flush()

    def history(self) -> list[dict[str, Any]]:
        return sorted(self.train_points + self.eval_points, key=lambda p: (p["step"], "eval_loss" in p))

    def flush(self) -> None:
        now = time.monotonic()
        self._last_write = self._last_beat = now
        self._running().update(
            step=self.step,
            total_steps=self.total,
            epoch=self.epoch,
            eta_seconds=self.eta,
            phase=self.phase,
            loss_history=self.history(),
            log_tail=list(self.log),
            heartbeat_at=timezone.now(),
            updated_at=timezone.now(),
        )

    def beat(self) -> None:
        now = time.monotonic()
        if now - self._last_beat >= heartbeat_interval_s():
            self._last_beat = now
            self._running().update(heartbeat_at=timezone.now())

    def should_stop(self) -> bool:
        self.beat()
        now = time.monotonic()
        if not self.stop and now - self._last_poll >= cancel_poll_s():
            self._last_poll = now
            row = FineTuneJob.objects.filter(pk=self.job_id).values_list("status", "cancel_requested").first()
            self.stop = row is None or row[1] or row[0] != JobStatus.RUNNING
        return self.stop

    def callback(self):
        """A transformers TrainerCallback that keeps the heartbeat going through steps and validation."""
        from transformers import TrainerCallback

        tracker = self

        class Heartbeat(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                tracker.beat()

            def on_prediction_step(self, args, state, control, **kwargs):
                tracker.beat()

            def on_evaluate(self, args, state, control, **kwargs):
                tracker.beat()

            def on_save(self, args, state, control, **kwargs):
                tracker.beat()

        return Heartbeat()


def _lr(logs: dict[str, Any]) -> str:
    lr = logs.get("learning_rate")
    return f" lr {float(lr):.2e}" if lr is not None else ""


def job_output_dir(job: FineTuneJob) -> Path:
    return artifacts_dir() / "finetune" / f"job-{job.pk}"


def finetune_job_execute(*, job_id: int) -> str:
    """Run a claimed (running) job to its end. Never raises: the outcome is stored on the job."""
    from celery.exceptions import SoftTimeLimitExceeded

    from models_ml.llm.training import TrainingError, train

    job = FineTuneJob.objects.get(pk=job_id)
    tracker = JobTracker(job)
    try:
        tracker.note("Loading training dialogues from the database.", phase="data")
        records = selectors.job_training_records(job)
        # Transcripts leave the database for a model's weights: audited like any export.
        export_audit_create(
            user=job.created_by,
            channel="finetune",
            options=selectors.job_export_options(job),
            fmt=f"finetune-{job.task}",
            dialogue_count=len(records),
        )
        tracker.note(f"{len(records)} dialogues loaded. Loading the base model {job.base_model}.", phase="loading")
        out = job_output_dir(job)
        result = train(
            job.hyperparameters,
            records,
            out,
            progress_cb=tracker.progress,
            should_stop=tracker.should_stop,
            extra_callbacks=[tracker.callback()],
        )
    except SoftTimeLimitExceeded:
        return _finish_failed(tracker, str(ERR_TIME_LIMIT))
    except (TrainingError, ValueError) as exc:
        return _finish_failed(tracker, str(ERR_TRAINING % {"detail": exc}))
    except Exception as exc:  # every failure must end in a stored, readable state
        logger.exception("fine-tuning job %s failed", job_id)
        if type(exc).__name__ == "OutOfMemoryError":
            return _finish_failed(tracker, str(ERR_OUT_OF_MEMORY))
        return _finish_failed(tracker, str(ERR_UNEXPECTED % {"detail": f"{type(exc).__name__}: {exc}"}))
    if result.cancelled:
        return _finish_cancelled(tracker)
    return _finish_succeeded(tracker, result)


def _summary_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items() if k not in ("log_history", "config", "test_ids")}


@transaction.atomic
def _finish_succeeded(tracker: JobTracker, result: Any) -> str:
    job = FineTuneJob.objects.select_for_update().get(pk=tracker.job_id)
    if job.status != JobStatus.RUNNING:  # reaped or cancelled meanwhile: keep that outcome
        return job.status
    metrics = _summary_metrics(result.metrics)
    tracker.log.append(_line(f"Done: adapter saved to {result.adapter_dir}."))
    job.status = JobStatus.SUCCEEDED
    job.phase = "done"
    job.finished_at = timezone.now()
    job.step = max(tracker.step, int(metrics.get("global_step") or 0))
    job.total_steps = max(tracker.total, job.step)
    job.epoch = float(metrics.get("epoch") or tracker.epoch)
    job.eta_seconds = 0
    job.loss_history = tracker.history()
    job.log_tail = list(tracker.log)
    job.metrics = metrics
    job.output_dir = result.output_dir
    job.adapter_path = result.adapter_dir or ""
    job.save()
    ModelVersion.objects.create(
        name=f"QLoRA job #{job.pk} ({job.task}, {job.data_subset})",
        kind=job.model_kind,
        backend=Backend.HF,
        config={"base_model": job.base_model, "adapter_path": job.adapter_path},
        metrics={k: metrics[k] for k in ("eval_loss", "eval_perplexity", "train_loss", "global_step") if k in metrics},
        source_job=job,
        is_active=False,
    )
    return job.status


@transaction.atomic
def _finish_cancelled(tracker: JobTracker) -> str:
    tracker.log.append(_line("Cancelled: training stopped, no adapter saved."))
    tracker.phase = "cancelled"
    tracker.flush()
    FineTuneJob.objects.filter(pk=tracker.job_id, status=JobStatus.RUNNING).update(
        status=JobStatus.CANCELLED, finished_at=timezone.now(), eta_seconds=None
    )
    return FineTuneJob.objects.values_list("status", flat=True).get(pk=tracker.job_id)


@transaction.atomic
def _finish_failed(tracker: JobTracker, reason: str) -> str:
    tracker.log.append(_line(reason))
    tracker.phase = "failed"
    tracker.flush()
    finetune_job_fail(job_id=tracker.job_id, reason=reason)
    return JobStatus.FAILED


@transaction.atomic
def finetune_job_fail(*, job_id: int, reason: str) -> bool:
    """Mark a queued or running job failed with ``reason``; a finished job keeps its outcome."""
    job = FineTuneJob.objects.select_for_update().filter(pk=job_id).first()
    if job is None or job.is_terminal:
        return False
    job.status = JobStatus.FAILED
    job.error = reason
    job.finished_at = timezone.now()
    job.eta_seconds = None
    job.phase = "failed"
    if not job.log_tail or reason not in job.log_tail[-1]:
        job.log_tail = [*job.log_tail, _line(reason)][-LOG_TAIL_LINES:]
    job.save()
    return True


@transaction.atomic
def finetune_jobs_reap_stale(*, stale_after: timedelta | None = None) -> int:
    """Mark running jobs whose heartbeat is older than ``stale_after`` as failed (worker lost)."""
    now = timezone.now()
    cutoff = now - (stale_after if stale_after is not None else timedelta(seconds=stale_after_s()))
    stale = (
        FineTuneJob.objects.select_for_update(skip_locked=connection.features.has_select_for_update_skip_locked)
        .filter(status=JobStatus.RUNNING)
        .filter(Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff))
    )
    count = 0
    for job in stale:
        last = timezone.localtime(job.heartbeat_at or job.started_at)
        host = job.worker_hostname or "?"
        reason = f"{ERR_WORKER_LOST} ({host}, {last:%Y-%m-%d %H:%M:%S})"
        job.status = JobStatus.FAILED
        job.error = reason
        job.finished_at = now
        job.eta_seconds = None
        job.phase = "failed"
        job.log_tail = [*job.log_tail, _line(reason)][-LOG_TAIL_LINES:]
        job.save()
        count += 1
    return count


def finetune_job_run_inline(*, job: FineTuneJob) -> str:
    """``manage.py finetune --wait``: claim and run a queued job in this process (CPU smoke runs)."""
    import socket

    if not finetune_job_claim(job_id=job.pk, hostname=f"{socket.gethostname()} (inline)"):
        return FineTuneJob.objects.values_list("status", flat=True).get(pk=job.pk)
    return finetune_job_execute(job_id=job.pk)


# --- model versions --------------------------------------------------------------------------------

_REQUIRED_CONFIG = {
    Backend.HF: ("base_model",),
    Backend.OPENAI: ("base_url", "model"),
    Backend.RETRIEVAL: ("index_path",),
}


def _validate_model_config(backend: str, config: Any) -> dict:
    if backend not in Backend.values:
        raise PartnersError(ERR_MV_BACKEND)
    if not isinstance(config, dict):
        raise PartnersError(ERR_MV_CONFIG % {"backend": backend, "needed": "a JSON object"})
    if "api_key" in config:
        raise PartnersError(ERR_MV_SECRET)
    needed = [k for k in _REQUIRED_CONFIG[backend] if not isinstance(config.get(k), str) or not config[k].strip()]
    if needed:
        raise PartnersError(ERR_MV_CONFIG % {"backend": backend, "needed": ", ".join(needed)})
    return dict(config)


@transaction.atomic
def model_version_create(
    *,
    name: str,
    kind: str,
    backend: str,
    config: dict,
    metrics: dict | None = None,
    source_job: FineTuneJob | None = None,
    is_active: bool = False,
) -> ModelVersion:
    if kind not in ModelKind.values:
        raise PartnersError(ERR_MV_KIND)
    config = _validate_model_config(backend, config)
    return ModelVersion.objects.create(
        name=name[:120],
        kind=kind,
        backend=backend,
        config=config,
        metrics=metrics or {},
        source_job=source_job,
        is_active=is_active,
    )


@transaction.atomic
def model_version_set_active(*, version: ModelVersion, active: bool) -> ModelVersion:
    version.is_active = active
    version.save(update_fields=["is_active"])
    return version


def retrieval_index_build(*, role: str = "counselor", activate: bool = True) -> ModelVersion:
    """Index the High-scored (70–98) sessions of the database for the CPU retrieval partner and register it."""
    from models_ml.llm.backends import BackendConfigError
    from models_ml.llm.backends.retrieval import RetrievalBackend

    if role not in (ModelKind.COUNSELOR, ModelKind.CLIENT):
        raise PartnersError(ERR_TARGET_ROLE)
    records = selectors.retrieval_records()
    if not records:
        raise PartnersError(ERR_RETRIEVAL_EMPTY)
    export_audit_create(
        user=None,
        channel="retrieval",
        options=selectors.RETRIEVAL_OPTIONS,
        fmt=f"retrieval-{role}",
        dialogue_count=len(records),
    )
    started = time.perf_counter()
    try:
        backend = RetrievalBackend.from_records(records, role=role)
    except BackendConfigError:
        raise PartnersError(ERR_RETRIEVAL_EMPTY) from None
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S-%f")
    path = backend.save(artifacts_dir() / "retrieval" / f"{role}-{stamp}.joblib")
    return model_version_create(
        name=f"Retrieval {role} {timezone.localtime():%Y-%m-%d %H:%M}",
        kind=role,
        backend=Backend.RETRIEVAL,
        config={"index_path": str(path)},  # the index knows its role
        metrics={
            "dialogues": len(records),
            "indexed_replies": len(backend.replies),
            "build_s": round(time.perf_counter() - started, 2),
        },
        is_active=activate,
    )


# --- role cards ------------------------------------------------------------------------------------


def _clean_role_card(data: Any) -> CoreRoleCard:
    if not isinstance(data, dict):
        raise PartnersError(ERR_RC_INVALID % {"detail": "not an object"})
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 60:
        raise PartnersError(ERR_RC_NAME)
    texts = [v for v in data.values() if isinstance(v, str)]
    big_five = data.get("big_five")
    if isinstance(big_five, dict):
        texts += [v for v in big_five.values() if isinstance(v, str)]
    if any(any(ord(c) < 32 and c not in "\n\t" for c in t) for t in texts):
        raise PartnersError(ERR_RC_NUL)
    data = {k: (v.strip() if isinstance(v, str) else v) for k, v in data.items()}
    if isinstance(data.get("big_five"), dict):
        data["big_five"] = {k: (v.strip() if isinstance(v, str) else v) for k, v in data["big_five"].items()}
    try:
        return CoreRoleCard.from_dict(data)
    except (RoleCardError, TypeError) as exc:
        raise PartnersError(ERR_RC_INVALID % {"detail": exc}) from None


def _card_fields(card: CoreRoleCard) -> dict[str, Any]:
    return {k: v for k, v in card.to_dict().items()}


@transaction.atomic
def role_card_create(*, data: dict, created_by: Any = None) -> RoleCard:
    card = _clean_role_card(data)
    if RoleCard.objects.filter(name=card.name).exists():
        raise PartnersError(ERR_RC_NAME_TAKEN)
    user = created_by if created_by is not None and getattr(created_by, "is_authenticated", False) else None
    return RoleCard.objects.create(**_card_fields(card), created_by=user)


@transaction.atomic
def role_card_update(*, role_card: RoleCard, data: dict) -> RoleCard:
    card = _clean_role_card(data)
    if RoleCard.objects.filter(name=card.name).exclude(pk=role_card.pk).exists():
        raise PartnersError(ERR_RC_NAME_TAKEN)
    for key, value in _card_fields(card).items():
        setattr(role_card, key, value)
    role_card.save()
    return role_card


@transaction.atomic
def role_card_set_active(*, role_card: RoleCard, active: bool) -> RoleCard:
    role_card.is_active = active
    role_card.save(update_fields=["is_active", "updated_at"])
    return role_card


@transaction.atomic
def role_cards_load_examples(*, created_by: Any = None) -> int:
    """Load the invented example cards shipped with the LLM core; existing names are left alone."""
    created = 0
    for card in example_role_cards().values():
        if not RoleCard.objects.filter(name=card.name).exists():
            role_card_create(data=card.to_dict(), created_by=created_by)
            created += 1
    return created
