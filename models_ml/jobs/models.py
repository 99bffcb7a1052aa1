"""The one abstract job model and the one status enum of every long-running ML job.

Concrete jobs (fine-tuning, simulation, judging, evaluation, labelling, coaching suggestions, retrieval-index
builds, scorer training) inherit :class:`Job` and live in their own app; this app has no table of its own.
"""

from __future__ import annotations

from django.core.validators import MaxValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class JobStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)
TERMINAL_STATUSES = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class Job(models.Model):
    """Status, progress (0-100), a short message for people, heartbeat, error code and text, times, attempts.

    Writes go through ``models_ml.jobs.services`` (claim, heartbeat / progress, finish, fail, reap)."""

    status = models.CharField(_("status"), max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0, validators=[MaxValueValidator(100)])
    message = models.CharField(_("message"), max_length=300, blank=True, default="")
    error_code = models.CharField(_("error code"), max_length=40, blank=True, default="")
    error = models.TextField(_("error"), blank=True, default="")
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)  # every progress write; a silent running job is reaped
    celery_task_id = models.CharField(max_length=64, blank=True, default="")
    worker_hostname = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        abstract = True

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def percent(self) -> int:
        return 100 if self.status == JobStatus.SUCCEEDED else min(100, int(self.progress))

    @property
    def live_ref(self) -> str:
        """``"<job type key>:<id>"``: the name a page subscribes to on ``ws/jobs/`` (docs/jobs.md)."""
        from .live import job_ref

        return job_ref(self)

    def live_fields(self) -> dict:
        """A job type's own fields of the pushed ``job`` frame: ``step`` / ``total`` (the page's "N / M"),
        ``log_tail`` (a list of lines) and any other scalar a page marks with ``data-job-field``."""
        return {}

    def on_reaped(self, reason: str) -> None:
        """Hook: a job type's own fields when the reaper fails it (saved with it)."""

    def can_start(self) -> bool:
        """Extra condition for a claim (a fine-tuning job whose cancellation was requested does not start)."""
        return True


class CountedJob(Job):
    """A job over ``total`` items: ``done`` and ``failed`` counters; progress = (done + failed) / total."""

    done = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True

    @property
    def percent(self) -> int:
        return 100 if self.status == JobStatus.SUCCEEDED else self.counted_progress()

    def live_fields(self) -> dict:
        return {"step": self.done + self.failed, "total": self.total, "done": self.done, "failed": self.failed}

    def counted_progress(self) -> int:
        return min(100, round(100 * (self.done + self.failed) / self.total)) if self.total else 0


class JobLogEntry(models.Model):
    """One line of a job's log (any job type: ``job_type`` is the model's ``app_label.modelname``).

    Written by ``models_ml.jobs.control.job_log``; the job cards show the last lines."""

    job_type = models.CharField(max_length=60)
    job_id = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)
    line = models.CharField(max_length=500)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["job_type", "job_id", "id"], name="jobs_log_job_idx")]

    def __str__(self) -> str:
        return f"{self.job_type}#{self.job_id}: {self.line}"
