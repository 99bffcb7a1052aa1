"""Simulation jobs, arena battles, LLM-judge / evaluation / labelling jobs (issue 7)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from models_ml.jobs.models import CountedJob, JobStatus


class ArenaJob(CountedJob):
    """Common fields of every job of this app (status, progress, counters, heartbeat: models_ml.jobs)."""

    results = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        abstract = True
        ordering = ["-created_at", "-pk"]


class SimulationJob(ArenaJob):
    """AI client (role card) × AI counselor, ``sessions_per_card`` sessions per role card."""

    client_version = models.ForeignKey(
        "partners.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    counselor_version = models.ForeignKey(
        "partners.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    role_cards = models.ManyToManyField("partners.RoleCard", related_name="+")
    sessions_per_card = models.PositiveSmallIntegerField(default=1)
    max_turns = models.PositiveSmallIntegerField(default=50)
    turns = models.PositiveIntegerField(default=0)
    fidelity = models.JSONField(default=dict, blank=True)
    # The simulated sessions' language (Session.language): English uses English cards and prompts.
    language = models.CharField(max_length=8, default="ja")

    class Meta(ArenaJob.Meta):
        verbose_name = _("simulation job")

    def __str__(self) -> str:
        return f"simulation #{self.pk} ({self.status})"

    def live_fields(self) -> dict:
        return {**super().live_fields(), "turns": self.turns}


class SimulatedSession(models.Model):
    job = models.ForeignKey(SimulationJob, on_delete=models.CASCADE, related_name="items")
    role_card = models.ForeignKey("partners.RoleCard", null=True, on_delete=models.SET_NULL, related_name="+")
    session = models.OneToOneField(
        "roleplay.Session", null=True, blank=True, on_delete=models.SET_NULL, related_name="simulation"
    )
    index = models.PositiveIntegerField()
    # One simulated session's state, in the jobs' one enum: queued (not started), running, succeeded, failed.
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    turns = models.PositiveIntegerField(default=0)
    end = models.CharField(max_length=20, blank=True, default="")  # "closing" | "max_turns"
    closing_phrase = models.CharField(max_length=100, blank=True, default="")
    error = models.TextField(blank=True, default="")
    fidelity = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["job", "index"]
        constraints = [models.UniqueConstraint(fields=["job", "index"], name="simsession_unique_index")]

    def __str__(self) -> str:
        return f"simulated session {self.job_id}/{self.index} ({self.status})"


class Winner(models.TextChoices):
    A = "a", _("Model A")
    B = "b", _("Model B")
    TIE = "tie", _("Tie")


class JudgeKind(models.TextChoices):
    HUMAN = "human", _("Human")
    LLM = "llm", _("LLM")


class ArenaDialogue(models.Model):
    """A human-judged arena conversation: the AI client answers the reply the judge preferred."""

    role_card = models.ForeignKey("partners.RoleCard", null=True, on_delete=models.SET_NULL, related_name="+")
    client_version = models.ForeignKey(
        "partners.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    model_a = models.ForeignKey(
        "partners.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    model_b = models.ForeignKey(
        "partners.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    history = models.JSONField(default=list)  # [{"role": "counselor"|"client", "text": ...}]
    pending = models.JSONField(default=dict, blank=True)  # {"replies": {"a","b"}, "order": "ab"|"ba"}
    finished = models.BooleanField(default=False)
    error = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"arena dialogue #{self.pk}"


class JudgeJob(ArenaJob):
    """LLM judge over battles: new pairs generated on histories, or re-judging stored human battles."""

    MODE_NEW = "new"
    MODE_REJUDGE = "rejudge"
    mode = models.CharField(max_length=10, default=MODE_NEW)
    judge_version = models.ForeignKey(
        "partners.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    model_a = models.ForeignKey(
        "partners.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    model_b = models.ForeignKey(
        "partners.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    n_battles = models.PositiveIntegerField(default=10)
    both_orders = models.BooleanField(default=False)
    seed = models.IntegerField(default=0)

    class Meta(ArenaJob.Meta):
        verbose_name = _("LLM judge job")

    def __str__(self) -> str:
        return f"judge job #{self.pk} ({self.status})"


class ArenaBattle(models.Model):
    dialogue = models.ForeignKey(
        ArenaDialogue, null=True, blank=True, on_delete=models.SET_NULL, related_name="battles"
    )
    session = models.ForeignKey("roleplay.Session", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    history = models.JSONField(default=list)
    model_a = models.CharField(max_length=160)  # leaderboard key (model_key())
    model_b = models.CharField(max_length=160)
    model_a_version = models.ForeignKey(
        "partners.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    model_b_version = models.ForeignKey(
        "partners.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    shown_order = models.CharField(max_length=2, default="ab")  # "ab": A shown first; "ba": B shown first
    reply_a = models.TextField()
    reply_b = models.TextField()
    judge_kind = models.CharField(max_length=6, choices=JudgeKind.choices)
    judge_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    judge_model = models.CharField(max_length=160, blank=True, default="")
    judge_job = models.ForeignKey(JudgeJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="battles")
    pair_key = models.CharField(max_length=64, blank=True, default="")  # same history+replies across judges
    winner = models.CharField(max_length=3, choices=Winner.choices)
    raw_judgement = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["pair_key"])]
        constraints = [
            models.CheckConstraint(condition=Q(winner__in=["a", "b", "tie"]), name="battle_winner_valid"),
            models.CheckConstraint(condition=Q(shown_order__in=["ab", "ba"]), name="battle_order_valid"),
            models.CheckConstraint(condition=Q(judge_kind__in=["human", "llm"]), name="battle_judge_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.model_a} vs {self.model_b}: {self.winner}"

    @property
    def judge_label(self) -> str:
        if self.judge_kind == JudgeKind.HUMAN:
            return f"human:{self.judge_user.username if self.judge_user else '?'}"
        return f"llm:{self.judge_model}"


class EvalJob(ArenaJob):
    """``evaluate_generation`` run from the UI."""

    model_version = models.ForeignKey(
        "partners.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    backend_name = models.CharField(max_length=20, default="retrieval")
    limit = models.PositiveIntegerField(null=True, blank=True)

    class Meta(ArenaJob.Meta):
        verbose_name = _("generation evaluation")

    def __str__(self) -> str:
        return f"evaluation #{self.pk} ({self.status})"


class LabelKind(models.TextChoices):
    TOPIC = "topic", _("Topic labelling")
    WAI = "wai", _("WAI-O-S (working alliance)")


class LabelJob(ArenaJob):
    kind = models.CharField(max_length=6, choices=LabelKind.choices)
    judge_version = models.ForeignKey(
        "partners.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    session_ids = models.JSONField(default=list)
    overwrite = models.BooleanField(default=False)
    max_tries = models.PositiveSmallIntegerField(default=2)

    class Meta(ArenaJob.Meta):
        verbose_name = _("labelling job")

    def __str__(self) -> str:
        return f"{self.kind} labelling #{self.pk} ({self.status})"


class WaiRating(models.Model):
    """Working Alliance Inventory, observer short form: 12 items (1–7) for one whole session."""

    session = models.ForeignKey("roleplay.Session", on_delete=models.CASCADE, related_name="wai_ratings")
    job = models.ForeignKey(LabelJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="wai_ratings")
    judge_model = models.CharField(max_length=160, blank=True, default="")
    items = models.JSONField()  # 12 per-item means over the rounds, as worded (wai.WAI_O_S_ITEMS order)
    goal = models.FloatField()
    task = models.FloatField()
    bond = models.FloatField()
    total = models.FloatField()
    raw = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"WAI session {self.session_id}: {self.total:.2f}"
