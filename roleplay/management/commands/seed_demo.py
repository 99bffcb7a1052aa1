"""Demo accounts and sessions so that `make run` shows a working platform at once.

Idempotent: running it again resets the demo passwords, keeps existing demo sessions and
only creates what is missing (a live session is re-created once the previous one is over).
"""

from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from feedback.items import ITEM_FIELDS
from feedback.services import feedback_submit
from roleplay.models import AgeBand, EndReason, Gender, PreferredRole, Qualification, Session, SessionStatus
from roleplay.services.accounts import profile_update, user_signup
from roleplay.services.chat import messages_record
from roleplay.services.matching import session_book, session_setup_update
from roleplay.services.sessions import session_create_ended, session_end, session_topic_set
from roleplay.topics import Topic

from ._demo_dialogues import DIALOGUES, DemoDialogue


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    display_name: str
    qualification: str
    preferred_role: str
    training_hours: int
    gender: str = Gender.UNSPECIFIED
    age_band: str = AgeBand.UNSPECIFIED
    superuser: bool = False
    note: str = ""


ADMIN = DemoAccount(
    "admin",
    "kokoro-admin-2025",
    "管理者",
    Qualification.CERTIFIED,
    PreferredRole.EITHER,
    0,
    superuser=True,
    note="administrator (Django admin, monitoring, exports)",
)
COUNSELOR = DemoAccount(
    "counselor",
    "kokoro-demo-2025",
    "さくら（相談員）",
    Qualification.CERTIFIED,
    PreferredRole.COUNSELOR,
    320,
    Gender.FEMALE,
    AgeBand.FORTIES,
    note="certified counselor (plays the counselor)",
)
CLIENT = DemoAccount(
    "client",
    "kokoro-demo-2025",
    "はると（研修生）",
    Qualification.TRAINEE,
    PreferredRole.CLIENT,
    12,
    Gender.MALE,
    AgeBand.TWENTIES,
    note="trainee (plays the client)",
)
TRAINEE = DemoAccount(
    "trainee",
    "kokoro-demo-2025",
    "みなみ（研修生）",
    Qualification.TRAINEE,
    PreferredRole.EITHER,
    4,
    Gender.OTHER,
    AgeBand.THIRTIES,
    note="trainee (either role)",
)
ACCOUNTS = (ADMIN, COUNSELOR, CLIENT, TRAINEE)


def _ensure_user(account: DemoAccount):
    User = get_user_model()
    user = User.objects.filter(username=account.username).first()
    profile = {
        "display_name": account.display_name,
        "gender": account.gender,
        "age_band": account.age_band,
        "qualification": account.qualification,
        "training_hours": account.training_hours,
        "preferred_role": account.preferred_role,
    }
    if user is None:
        user = user_signup(username=account.username, password=account.password, **profile)
    else:
        user.set_password(account.password)
        profile_update(user=user, **profile)
    user.is_staff = user.is_superuser = account.superuser
    user.is_active = True
    user.save()
    return user


def _pair_sessions(counselor, client):
    return Session.objects.filter(counselor=counselor, client=client)


def _past_session(counselor, client, dialogue: DemoDialogue, now) -> Session:
    """An ended role-play with its messages (a minute apart) and the client's feedback."""
    starts = timezone.localtime(now).replace(hour=19, minute=0, second=0, microsecond=0)
    starts -= timedelta(days=dialogue.days_ago)
    session = session_create_ended(
        counselor=counselor,
        client=client,
        starts_at=starts,
        ended_at=starts + timedelta(minutes=len(dialogue.turns) + 1),
        end_reason=EndReason.COUNSELOR,
        topic=dialogue.topic,
    )
    messages_record(
        session_id=session.pk,
        turns=[
            (role, text, starts + timedelta(minutes=seq)) for seq, (role, text) in enumerate(dialogue.turns, start=1)
        ],
    )
    session.refresh_from_db()
    feedback = feedback_submit(
        session=session, client=client, values=dict(zip(ITEM_FIELDS, dialogue.items, strict=True)), screenings={}
    )
    feedback.created_at = session.ended_at + timedelta(minutes=5)  # submitted right after that session
    feedback.save(update_fields=["created_at"])
    return session


def _ensure_past_sessions(counselor, client, now) -> int:
    """The demo pair's rated past sessions (created once): a results history for the counselor, and what the
    built-in AI practice partner answers from until real data is imported."""
    rated = _pair_sessions(counselor, client).filter(status=SessionStatus.ENDED, feedback__isnull=False).count()
    for dialogue in DIALOGUES[rated:]:
        _past_session(counselor, client, dialogue, now)
    return max(rated, len(DIALOGUES))


class Command(BaseCommand):
    help = "Create (or refresh) the demo accounts, a live session starting now and a session tomorrow."

    @transaction.atomic
    def handle(self, *args, **options):
        now = timezone.now()
        users = {account.username: _ensure_user(account) for account in ACCOUNTS}
        counselor, client = users[COUNSELOR.username], users[CLIENT.username]

        live = next(
            (s for s in _pair_sessions(counselor, client).filter(status=SessionStatus.LIVE) if s.ends_at > now), None
        )
        if live is None:
            # An overdue demo session would block the pair: close it before starting a new one.
            for stale in _pair_sessions(counselor, client).filter(status=SessionStatus.LIVE):
                session_end(session=stale, reason=EndReason.TIME_UP)
            live = session_book(counselor=counselor, client=client, starts_at=now, live=True, now=now)
            session_topic_set(session_id=live.pk, topic=Topic.WORKPLACE, sub="", overwrite=True)
            live.refresh_from_db()

        tomorrow = timezone.localtime(now).replace(hour=10, minute=0, second=0, microsecond=0) + timedelta(days=1)
        upcoming = _pair_sessions(counselor, client).filter(status=SessionStatus.SCHEDULED, starts_at__gt=now).first()
        if upcoming is None:
            upcoming = session_book(counselor=counselor, client=client, starts_at=tomorrow, now=now)
            session_setup_update(
                session=upcoming,
                user=counselor,
                topic=Topic.INTERPERSONAL,
                client_state="最近よく眠れず、友人関係のことで気分が沈みがち（架空の設定）",
                suicidal_ideation=False,
                duration_minutes=60,
                now=now,
            )

        past = _ensure_past_sessions(counselor, client, now)
        self._print(live, upcoming, past)

    def _print(self, live: Session, upcoming: Session, past: int) -> None:
        out = self.stdout
        out.write(self.style.SUCCESS("Demo data ready."))
        out.write("")
        out.write("  Log in at /accounts/login/ with:")
        width = max(len(a.username) for a in ACCOUNTS)
        for account in ACCOUNTS:
            out.write(f"    {account.username:<{width}}  password: {account.password:<18}  {account.note}")
        out.write("")
        local = timezone.localtime
        out.write(
            f"  Live session #{live.pk} (counselor ↔ client) since {local(live.starts_at):%Y-%m-%d %H:%M}: "
            f"/sessions/{live.pk}/"
        )
        out.write(f"  Scheduled session #{upcoming.pk} at {local(upcoming.starts_at):%Y-%m-%d %H:%M}")
        out.write(f"  {past} rated past sessions (counselor ↔ client): results history and AI practice data")
