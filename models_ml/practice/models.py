"""An AI practice session: a normal chat Session whose partner is a bot account driven by a model."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AIRole(models.TextChoices):
    COUNSELOR = "counselor", _("AI counselor")
    CLIENT = "client", _("AI client")


class GenerationState(models.TextChoices):
    IDLE = "idle", _("Idle")
    GENERATING = "generating", _("Generating")
    ERROR = "error", _("Error")


class PartnerBot(models.Model):
    """The user account that speaks for one AI partner (an AI counselor model, or one role card).

    A real (password-less) user, so that Session, Feedback and the auto-scorer work unchanged."""

    key = models.CharField(max_length=40, unique=True)  # "counselor", "counselor-<mv id>", "client-<card id>"
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="partner_bot")
    ai_role = models.CharField(max_length=10, choices=AIRole.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("AI partner account")
        verbose_name_plural = _("AI partner accounts")

    def __str__(self) -> str:
        return self.key


class PracticeSession(models.Model):
    session = models.OneToOneField("roleplay.Session", on_delete=models.CASCADE, related_name="practice")
    ai_role = models.CharField(_("AI role"), max_length=10, choices=AIRole.choices)
    # Null = the default partner of that kind, resolved when a reply is generated.
    model_version = models.ForeignKey(
        "partners.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="practice_sessions"
    )
    role_card = models.ForeignKey(
        "partners.RoleCard", null=True, blank=True, on_delete=models.SET_NULL, related_name="practice_sessions"
    )
    state = models.CharField(max_length=10, choices=GenerationState.choices, default=GenerationState.IDLE)
    reply_id = models.CharField(max_length=32, blank=True, default="")  # the reply being generated
    reply_after_seq = models.PositiveIntegerField(default=0)  # ... answering the messages up to this seq
    last_error = models.TextField(blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)  # generation attempts (retries included)
    replies = models.PositiveIntegerField(default=0)  # stored AI messages
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("AI practice session")
        verbose_name_plural = _("AI practice sessions")
        constraints = [
            models.CheckConstraint(condition=Q(ai_role__in=["counselor", "client"]), name="practice_ai_role_valid"),
            models.CheckConstraint(condition=Q(state__in=["idle", "generating", "error"]), name="practice_state_valid"),
        ]

    def __str__(self) -> str:
        return f"AI {self.ai_role} in session {self.session_id}"

    @property
    def human_role(self) -> str:
        return AIRole.CLIENT if self.ai_role == AIRole.COUNSELOR else AIRole.COUNSELOR
