"""Role-card library, selectable generation models, and QLoRA fine-tuning jobs (issue 6)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kokoro_site.settings.secrets import secret
from models_ml.jobs.models import TERMINAL_STATUSES, Job, JobStatus  # noqa: F401  (the one status enum)
from models_ml.llm.role_cards import CARD_FIELDS
from models_ml.llm.role_cards import RoleCard as CoreRoleCard


class RoleCard(models.Model):
    """An AI-client persona: the nine elements of the Interactive Agents role card, written in ``language``
    (Japanese, or English for English-mode practice and simulations)."""

    name = models.CharField(_("name"), max_length=60, unique=True)
    language = models.CharField(
        _("language"), max_length=8, choices=[("ja", _("Japanese")), ("en", _("English"))], default="ja"
    )
    gender = models.CharField(_("gender"), max_length=20)
    age = models.PositiveSmallIntegerField(_("age"))
    education = models.CharField(_("education"), max_length=60)
    occupation = models.CharField(_("occupation"), max_length=60)
    marital_status = models.CharField(_("marital status"), max_length=30)
    family = models.CharField(_("family relationships"), max_length=200)
    big_five = models.JSONField(_("Big Five traits"), default=dict)
    resistance = models.CharField(_("resistance to counseling"), max_length=200)
    chief_complaint = models.CharField(_("chief complaint"), max_length=400)
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("role card")
        verbose_name_plural = _("role cards")

    def __str__(self) -> str:
        return self.name

    def to_core(self) -> CoreRoleCard:
        """The validated ``models_ml.llm.role_cards.RoleCard`` used to build the AI client's prompt."""
        values = {field: getattr(self, field) for field in CARD_FIELDS}
        return CoreRoleCard(name=self.name, language=self.language, **{**values, "big_five": dict(self.big_five)})


class ModelKind(models.TextChoices):
    COUNSELOR = "counselor", _("Counselor (response model)")
    CLIENT = "client", _("Client (simulator)")
    SCORER = "scorer", _("Scorer (score model)")


class Backend(models.TextChoices):
    HF = "hf", _("Local model (transformers + LoRA adapter)")
    OPENAI = "openai", _("OpenAI-compatible endpoint")
    RETRIEVAL = "retrieval", _("Retrieval (CPU, High-scored dialogues)")


class ModelVersion(models.Model):
    """A model that practice partners (kind counselor / client) or the LLM scorer (kind scorer) can select.

    ``config`` never holds secrets: an OpenAI-compatible endpoint names the environment variable (or setting)
    that holds its key in ``api_key_env``; :meth:`backend_config` resolves it at use time."""

    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=10, choices=ModelKind.choices)
    backend = models.CharField(_("backend"), max_length=10, choices=Backend.choices)
    config = models.JSONField(_("backend configuration"), default=dict, blank=True)
    metrics = models.JSONField(_("metrics"), default=dict, blank=True)
    source_job = models.ForeignKey(
        "partners.FineTuneJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="model_versions"
    )
    is_active = models.BooleanField(_("active"), default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("model version")
        verbose_name_plural = _("model versions")
        indexes = [models.Index(fields=["kind", "is_active"])]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=["counselor", "client", "scorer"]), name="mv_kind_valid"),
            models.CheckConstraint(condition=Q(backend__in=["hf", "openai", "retrieval"]), name="mv_backend_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()}, {self.backend})"

    def backend_config(self) -> dict[str, Any]:
        """The dict for ``models_ml.llm.backends.get_backend`` (``language`` is the platform's, not the backend's)."""
        return resolve_backend_config(
            {"backend": self.backend, **{k: v for k, v in self.config.items() if k != "language"}}
        )


def resolve_backend_config(config: dict[str, Any]) -> dict[str, Any]:
    """Replace ``api_key_env`` (the NAME of an environment variable or setting) by the key itself."""
    config = dict(config)
    key_name = config.pop("api_key_env", None)
    if key_name:
        key = secret(key_name)
        if key:
            config["api_key"] = key
    return config


class JobTask(models.TextChoices):
    RESPONSE = "response", _("Response model (next counselor or client turn)")
    SCORE = "score", _("Score model (20 items)")


LOG_TAIL_LINES = 50  # the job page's log tail
LIVE_LOSS_POINTS = 30  # the newest loss points in a pushed frame (a progress write adds a few at most)


class DataSubset(models.TextChoices):
    FULL = "full", _("Full (score ≤ 98)")
    LOW = "low", _("Low (score ≤ 69)")
    HIGH = "high", _("High (score 70–98)")
    ALL = "all", _("All dialogues (score task)")


class FineTuneJob(Job):
    task = models.CharField(_("task"), max_length=10, choices=JobTask.choices, default=JobTask.RESPONSE)
    data_subset = models.CharField(_("training data"), max_length=10, choices=DataSubset.choices)
    quality_filter = models.BooleanField(_("quality filter"), default=False)
    include_synthetic = models.BooleanField(_("include synthetic sessions"), default=False)
    base_model = models.CharField(_("base model"), max_length=500)
    hyperparameters = models.JSONField(_("hyper-parameters"), default=dict)
    max_steps = models.PositiveIntegerField(_("max steps"), null=True, blank=True)

    cancel_requested = models.BooleanField(default=False)
    step = models.PositiveIntegerField(default=0)
    total_steps = models.PositiveIntegerField(default=0)
    epoch = models.FloatField(default=0.0)
    eta_seconds = models.PositiveIntegerField(null=True, blank=True)
    phase = models.CharField(max_length=40, blank=True, default="")
    loss_history = models.JSONField(default=list, blank=True)  # [{"step", "epoch", "loss" | "eval_loss"}]
    log_tail = models.JSONField(default=list, blank=True)  # last LOG_TAIL_LINES lines
    metrics = models.JSONField(default=dict, blank=True)
    output_dir = models.CharField(max_length=500, blank=True, default="")
    adapter_path = models.CharField(max_length=500, blank=True, default="")

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    retry_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("fine-tuning job")
        verbose_name_plural = _("fine-tuning jobs")
        indexes = [models.Index(fields=["status", "heartbeat_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "succeeded", "failed", "cancelled"]),
                name="finetune_status_valid",
            ),
            models.CheckConstraint(condition=Q(task__in=["response", "score"]), name="finetune_task_valid"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.task} ({self.status})"

    def can_start(self) -> bool:
        return not self.cancel_requested

    def on_reaped(self, reason: str) -> None:
        self.eta_seconds = None
        self.phase = "failed"
        self.log_tail = [*self.log_tail, f"{timezone.localtime():%H:%M:%S} {reason}"][-LOG_TAIL_LINES:]

    def live_fields(self) -> dict:
        """Besides step / total, phase and the log: the epoch ("1.25"), the ETA in seconds (only while running)
        and the newest ``LIVE_LOSS_POINTS`` points of the loss curves with the curve's length, which the job
        page appends to its chart (docs/jobs.md, "Live progress")."""
        history = self.loss_history if isinstance(self.loss_history, list) else []
        running = self.status == JobStatus.RUNNING
        return {
            "step": self.step,
            "total": self.total_steps,
            "phase": self.phase,
            "log_tail": list(self.log_tail),
            "epoch": f"{float(self.epoch or 0):.2f}",
            "eta_seconds": self.eta_seconds if running else None,
            "loss_points": history[-LIVE_LOSS_POINTS:],
            "loss_count": len(history),
        }

    @property
    def target_role(self) -> str:
        return self.hyperparameters.get("target_role", "counselor")

    @property
    def model_kind(self) -> str:
        if self.task == JobTask.SCORE:
            return ModelKind.SCORER
        return ModelKind.CLIENT if self.target_role == "client" else ModelKind.COUNSELOR

    @property
    def percent(self) -> int:
        if self.status == JobStatus.SUCCEEDED:
            return 100
        if not self.total_steps:
            return 0
        return min(100, round(100 * self.step / self.total_steps))


class RetrievalIndexJob(Job):
    """Build the CPU retrieval partner of one role from the database's High-scored sessions (a background job
    with progress; registers the index as a ModelVersion)."""

    role = models.CharField(_("role"), max_length=10, choices=[("counselor", _("Counselor")), ("client", _("Client"))])
    activate = models.BooleanField(_("activate when built"), default=True)
    model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("result")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("retrieval index build")
        verbose_name_plural = _("retrieval index builds")

    def __str__(self) -> str:
        return f"retrieval index #{self.pk} {self.role} ({self.status})"
