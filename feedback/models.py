from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .items import ITEMS, SCREENINGS


class Feedback(models.Model):
    """The client-role participant's rating of one session (one per session)."""

    session = models.OneToOneField("roleplay.Session", on_delete=models.CASCADE, related_name="feedback")
    # The dataset's evaluation id (評価ID); platform feedback gets the next free id.
    evaluation_id = models.PositiveIntegerField(unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    client = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="feedback_given")
    counselor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="feedback_received")
    total = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["total"]), models.Index(fields=["created_at"])]

    def __str__(self) -> str:
        return f"Feedback {self.evaluation_id} ({self.total})"

    @property
    def item_values(self) -> list[int]:
        return [getattr(self, i.field) for i in ITEMS]

    @property
    def any_screening(self) -> bool:
        return any(getattr(self, s.field) for s in SCREENINGS)


for _item in ITEMS:
    Feedback.add_to_class(
        _item.field,
        models.PositiveSmallIntegerField(_item.jp, validators=[MinValueValidator(0), MaxValueValidator(5)]),
    )
for _s in SCREENINGS:
    Feedback.add_to_class(_s.field, models.BooleanField(_s.jp, default=False))


class ExportAudit(models.Model):
    """Who exported what, and when (every dataset export is written here)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    channel = models.CharField(max_length=20)  # "command" or "web"
    params = models.JSONField(default=dict)
    fmt = models.CharField(max_length=20)
    dialogue_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.user} {self.fmt} ({self.dialogue_count})"


class MonitoringReview(models.Model):
    """A staff member reviewed a flagged feedback (screening item checked), with a follow-up note.

    Append-only: every review is kept, so this table is the audit log of the monitoring work; a
    feedback counts as reviewed once it has at least one row.
    """

    feedback = models.ForeignKey(Feedback, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    note = models.TextField(_("follow-up note"), blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"review of {self.feedback_id} by {self.reviewer_id}"
