from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .topics import Topic


class Role(models.TextChoices):
    COUNSELOR = "counselor", _("Counselor")
    CLIENT = "client", _("Client")


class PreferredRole(models.TextChoices):
    COUNSELOR = "counselor", _("Counselor")
    CLIENT = "client", _("Client")
    EITHER = "either", _("Either")


class Gender(models.TextChoices):
    UNSPECIFIED = "", _("Prefer not to say")
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")
    OTHER = "other", _("Other")


class AgeBand(models.TextChoices):
    UNSPECIFIED = "", _("Prefer not to say")
    TEENS = "10s", _("Teens")
    TWENTIES = "20s", _("20s")
    THIRTIES = "30s", _("30s")
    FORTIES = "40s", _("40s")
    FIFTIES = "50s", _("50s")
    SIXTIES_PLUS = "60+", _("60 and over")


class Qualification(models.TextChoices):
    CERTIFIED = "certified", _("Certified counselor")
    TRAINEE = "trainee", _("Trainee")


class Profile(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    display_name = models.CharField(_("display name"), max_length=50)
    gender = models.CharField(_("gender"), max_length=10, choices=Gender.choices, blank=True, default="")
    age_band = models.CharField(_("age band"), max_length=5, choices=AgeBand.choices, blank=True, default="")
    qualification = models.CharField(
        _("qualification"), max_length=10, choices=Qualification.choices, default=Qualification.TRAINEE
    )
    training_hours = models.PositiveIntegerField(_("completed training hours"), default=0)
    preferred_role = models.CharField(
        _("preferred role"), max_length=10, choices=PreferredRole.choices, default=PreferredRole.EITHER
    )
    # Pseudonymous participant id of the KokoroChat dataset (imported accounts only).
    dataset_id = models.PositiveIntegerField(null=True, blank=True, unique=True)
    # Participant id written to research exports; imported accounts keep their dataset id.
    research_id = models.PositiveIntegerField(null=True, blank=True, unique=True)
    # Notifications by e-mail (matches, changes, "starts in 5 minutes"); the site always shows them.
    email_notifications = models.BooleanField(_("e-mail me about my sessions"), default=True)
    # Language of the e-mails (the site itself follows the language menu).
    email_language = models.CharField(
        _("e-mail language"), max_length=5, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
    )

    def __str__(self) -> str:
        return self.display_name


class SlotStatus(models.TextChoices):
    OPEN = "open", _("Waiting for a partner")
    MATCHED = "matched", _("Matched")
    CANCELLED = "cancelled", _("Cancelled")


class AvailabilitySlot(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="slots")
    role = models.CharField(_("role"), max_length=10, choices=Role.choices)
    starts_at = models.DateTimeField(_("from"))
    ends_at = models.DateTimeField(_("until"))
    status = models.CharField(max_length=10, choices=SlotStatus.choices, default=SlotStatus.OPEN)
    session = models.ForeignKey("Session", null=True, blank=True, on_delete=models.SET_NULL, related_name="slots")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["status", "role", "starts_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="slot_ends_after_start")
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.role} {self.starts_at:%Y-%m-%d %H:%M}"


class SessionStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    LIVE = "live", _("Live")
    ENDED = "ended", _("Ended")
    CANCELLED = "cancelled", _("Cancelled")


class SessionSource(models.TextChoices):
    LIVE = "live", _("Role-play")
    IMPORTED = "imported", _("Imported dataset")
    AI = "ai", _("AI practice partner")
    SIMULATED = "simulated", _("Simulated (LLM-to-LLM)")


class EndReason(models.TextChoices):
    NONE = "", "-"
    COUNSELOR = "counselor", _("Ended by the counselor")
    TIME_UP = "time_up", _("Time is up")
    ADMIN = "admin", _("Ended by an administrator")
    IMPORTED = "imported", _("Imported")


class Session(models.Model):
    counselor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="sessions_as_counselor"
    )
    client = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="sessions_as_client"
    )
    starts_at = models.DateTimeField(_("starts at"))
    duration_minutes = models.PositiveSmallIntegerField(_("duration (minutes)"), default=60)
    status = models.CharField(max_length=10, choices=SessionStatus.choices, default=SessionStatus.SCHEDULED)
    source = models.CharField(max_length=10, choices=SessionSource.choices, default=SessionSource.LIVE)
    # True for LLM-generated sessions; kept apart from human data in exports unless asked.
    is_synthetic = models.BooleanField(default=False)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=10, choices=EndReason.choices, blank=True, default="")
    # Set-up chosen by the counselor-role participant before the start; empty = client decides.
    topic = models.CharField(_("topic"), max_length=20, choices=Topic.choices, blank=True, default="")
    topic_sub = models.CharField(_("sub-topic"), max_length=200, blank=True, default="")
    client_state = models.TextField(_("client's psychological state"), blank=True, default="")
    suicidal_ideation = models.BooleanField(_("suicidal ideation present"), null=True, blank=True)
    # Highest sequence number handed out; messages are numbered 1..last_seq.
    last_seq = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    # The language the session was held in: "ja" (the dataset, the platform's default) or e.g. "en"
    # for English-mode practice; translations of its messages are MessageTranslation rows.
    language = models.CharField(_("language"), max_length=16, default="ja", db_default="ja")

    class Meta:
        ordering = ["-starts_at"]
        indexes = [
            models.Index(fields=["status", "starts_at"]),
            models.Index(fields=["source", "starts_at"]),
            models.Index(fields=["counselor", "status", "starts_at"]),
            models.Index(fields=["client", "status", "starts_at"]),
        ]

    def __str__(self) -> str:
        return f"Session {self.pk} ({self.get_status_display()})"

    @property
    def ends_at(self):
        from datetime import timedelta

        return self.starts_at + timedelta(minutes=self.duration_minutes)

    def role_of(self, user) -> str | None:
        if user is None or not getattr(user, "pk", None):
            return None
        if user.pk == self.counselor_id:
            return Role.COUNSELOR
        if user.pk == self.client_id:
            return Role.CLIENT
        return None


class Message(models.Model):
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="messages")
    seq = models.PositiveIntegerField()
    role = models.CharField(max_length=10, choices=Role.choices)
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    # Sender-generated id: a resend with the same id is acknowledged, not stored twice. Unique per
    # sender: the partner's id reused by the other participant is a new message of its own.
    client_msg_id = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001 (NULL = no id; unique when set)

    class Meta:
        ordering = ["session", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["session", "seq"], name="message_unique_seq"),
            models.UniqueConstraint(
                fields=["session", "sender", "client_msg_id"],
                condition=Q(client_msg_id__isnull=False),
                name="message_unique_sender_client_msg_id",
            ),
        ]
        # The per-user rate limit counts a sender's messages of the last window (services.chat).
        indexes = [models.Index(fields=["sender", "created_at"], name="message_sender_time_idx")]

    def __str__(self) -> str:
        return f"{self.session_id}#{self.seq} {self.role}"


class MessageTranslation(models.Model):
    """A message in another language (the Multilingual KokoroChat translations): one per message and language.

    ``language`` is the code of the translation (``en``, ``zh``, ...); the message itself is the original.
    """

    # Keyed by message and language (one index: the primary key), no surrogate id.
    pk = models.CompositePrimaryKey("message", "language")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="translations", db_index=False)
    language = models.CharField(max_length=16)
    text = models.TextField()

    def __str__(self) -> str:
        return f"{self.message_id} {self.language}"


class TranscriptReadChannel(models.TextChoices):
    DATASET = "dataset", _("dataset page")
    ADMIN = "admin", _("admin")
    ROOM = "room", _("watching the room")
    SOCKET = "socket", _("watching the socket")


class TranscriptRead(models.Model):
    """A staff member (not a participant) read one session's transcript: who, which, how, when."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    session = models.ForeignKey(Session, null=True, on_delete=models.SET_NULL, related_name="+")
    channel = models.CharField(max_length=10, choices=TranscriptReadChannel.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["session", "created_at"], name="transcriptread_session_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} read {self.session_id} ({self.channel})"


class NotificationKind(models.TextChoices):
    MATCHED = "matched", _("Session matched")
    RESCHEDULED = "rescheduled", _("Session rescheduled")
    CANCELLED = "cancelled", _("Session cancelled")
    STARTING_SOON = "starting_soon", _("Session starts soon")


class Notification(models.Model):
    """Something a participant should know about a session. The text is built when shown (in the
    reader's language) from ``kind`` and ``params``; nothing translated is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    session = models.ForeignKey(Session, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications")
    # JSON facts for the text: ``starts_at`` (ISO time), ``partner`` (display name).
    params = models.JSONField(default=dict, blank=True)
    # Same key twice for one user, kind and session = the same notification (the reminder task).
    dedupe_key = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["user", "read_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "kind", "session", "dedupe_key"],
                condition=~Q(dedupe_key=""),
                name="notification_unique_dedupe_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind} {self.session_id}"
