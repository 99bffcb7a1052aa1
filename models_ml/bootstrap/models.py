"""A dataset import from the site and the first-run set-up (both jobs of the one framework)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from models_ml.jobs.models import CountedJob, Job

REJECTED_KEPT = 50  # rejected files listed on the job (the count is complete)


class DatasetImportJob(CountedJob):
    """Import a folder or a .zip of KokoroChat files; ``done``/``total`` count files."""

    source = models.CharField(_("folder or zip file"), max_length=1000)
    source_name = models.CharField(max_length=255, blank=True, default="")  # what people see
    uploaded = models.BooleanField(default=False)  # an uploaded zip, deleted once imported
    update = models.BooleanField(_("replace changed imported dialogues"), default=False)
    imported = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    messages_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    rejected = models.JSONField(default=list, blank=True)  # [[file, reason], ...] the first REJECTED_KEPT
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("dataset import")

    def __str__(self) -> str:
        return f"dataset import #{self.pk} ({self.status})"


class SetupRun(Job):
    """The first-run set-up of one dataset folder: its steps are jobs of their own types, run in order."""

    source = models.CharField(max_length=1000)
    import_job = models.ForeignKey(DatasetImportJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    scorer_job = models.ForeignKey(
        "models_ml.ScorerTrainingJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    counselor_index_job = models.ForeignKey(
        "partners.RetrievalIndexJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    client_index_job = models.ForeignKey(
        "partners.RetrievalIndexJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("set-up")
        constraints = [  # two web processes starting at once start one set-up
            models.UniqueConstraint(
                fields=["source"], condition=Q(status__in=["queued", "running"]), name="bootstrap_one_active_setup"
            )
        ]

    def __str__(self) -> str:
        return f"set-up #{self.pk} ({self.status})"

    STEP_FIELDS = ("import_job", "scorer_job", "counselor_index_job", "client_index_job")

    def steps(self) -> list:
        """The step jobs, in order (None for a step that has none)."""
        return [getattr(self, name) for name in self.STEP_FIELDS]

    @property
    def percent(self) -> int:
        """While it runs: the mean of its steps' progress."""
        if self.status == "succeeded":
            return 100
        steps = [s for s in self.steps() if s is not None]
        return round(sum(s.percent for s in steps) / len(steps)) if steps else min(100, int(self.progress))
