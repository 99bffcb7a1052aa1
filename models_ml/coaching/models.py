from django.conf import settings
from django.db import models
from django.utils import timezone

from models_ml.jobs.models import CountedJob, JobStatus

# A run stored as failed with this error code had no generation model to ask (checked again on restart).
CODE_UNAVAILABLE = "unavailable"


class SuggestionRun(CountedJob):
    """What the AI counselor would have said at each counselor turn of one ended session (a models_ml.jobs job:
    queued → running → succeeded | failed; failed with ``error_code="unavailable"`` when no model exists)."""

    session = models.OneToOneField("roleplay.Session", on_delete=models.CASCADE, related_name="suggestion_run")
    # {"<message seq>": "suggested reply", ...}: the turn opened by that counselor message.
    suggestions = models.JSONField(default=dict, blank=True)
    backend = models.CharField(max_length=20, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Suggestions {self.session_id} ({self.status} {self.done}/{self.total})"

    @property
    def active(self) -> bool:
        return self.is_active

    @property
    def unavailable(self) -> bool:
        return self.status == JobStatus.FAILED and self.error_code == CODE_UNAVAILABLE


class CoachingSettings(models.Model):
    """Live coaching per session: on/off (chosen by the counselor) and the latest panel state."""

    session = models.OneToOneField("roleplay.Session", on_delete=models.CASCADE, related_name="coaching_settings")
    enabled = models.BooleanField(default=False)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    # The last computed panel (same shape as the pushed "coaching" frame), so a reload shows it.
    state = models.JSONField(default=dict, blank=True)
    # Running predicted totals: [{"seq": int, "total": int}, ...]
    trend = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Coaching {self.session_id} ({'on' if self.enabled else 'off'})"


class ReferenceStats(models.Model):
    """Cached distribution of the per-session signals over the imported High-scored (70-98) sessions."""

    key = models.CharField(max_length=40, unique=True)
    source_count = models.PositiveIntegerField(default=0)  # High imported sessions when computed
    sample_size = models.PositiveIntegerField(default=0)
    # {"question_ratio": [sorted floats], "reflection_ratio": [...], "mean_response_s": [...], ...}
    data = models.JSONField(default=dict)
    computed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.key} ({self.sample_size} sessions)"


class SessionSignals(models.Model):
    """Per-session signal summary cache (recomputed when the session has new messages)."""

    session = models.OneToOneField("roleplay.Session", on_delete=models.CASCADE, related_name="coaching_signals")
    last_seq = models.PositiveIntegerField(default=0)
    rules_version = models.CharField(max_length=10, default="")
    stats = models.JSONField(default=dict)
    computed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Signals {self.session_id} (seq {self.last_seq})"
