"""Starting AI practice sessions, bot accounts, bad input, and the reply generation outside the socket."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from feedback.models import Feedback
from models_ml.finetuning.models import RoleCard
from models_ml.llm.rules import MAX_CLIENT_REPLY_CHARS
from models_ml.practice.models import GenerationState, PartnerBot, PracticeSession
from models_ml.practice.services import (
    ERR_AI_ROLE,
    ERR_ANONYMOUS,
    ERR_MODEL_MISSING,
    ERR_MODEL_UNAVAILABLE,
    ERR_NO_PARTNER,
    ERR_NOT_PRACTICE,
    ERR_NOT_TRAINEE,
    ERR_RETRY_BUSY,
    ERR_RETRY_ENDED,
    ERR_ROLE_CARD_UNAVAILABLE,
    ERR_TIME_LIMIT,
    PracticeError,
    practice_reply_generate,
    practice_reply_retry,
    practice_session_start,
)
from roleplay.models import Message, Role, Session, SessionSource, SessionStatus
from roleplay.services.chat import message_create
from tests.factories import UserFactory

from .conftest import model_version

pytestmark = pytest.mark.django_db


def _counts() -> tuple[int, int, int]:
    return Session.objects.count(), PracticeSession.objects.count(), Message.objects.count()


def test_ai_client_session_starts_live_now_with_the_trainee_as_counselor(role_card, ready):
    trainee = UserFactory()
    session = practice_session_start(user=trainee, ai_role="client", role_card_id=role_card.pk)
    assert session.status == SessionStatus.LIVE and session.source == SessionSource.AI
    assert session.is_synthetic  # kept out of research exports unless asked
    assert session.counselor == trainee and session.duration_minutes == 60
    assert session.started_at is not None
    bot = session.client
    assert not bot.has_usable_password()
    assert bot.profile.display_name == f"AIクライアント（{role_card.name}）"
    assert PartnerBot.objects.get(user=bot).key == f"client-{role_card.pk}"
    practice = session.practice
    assert practice.ai_role == "client" and practice.role_card == role_card and practice.model_version is None
    assert session.messages.count() == 0  # the AI client waits for the counselor's greeting


def test_the_same_partner_reuses_one_bot_account(role_card, ready):
    first = practice_session_start(user=UserFactory(), ai_role="client", role_card_id=role_card.pk)
    second = practice_session_start(user=UserFactory(), ai_role="client", role_card_id=role_card.pk)
    assert first.client_id == second.client_id
    assert PartnerBot.objects.count() == 1


def test_random_role_card_loads_the_example_cards_on_a_fresh_install(ready):
    assert not RoleCard.objects.exists()
    session = practice_session_start(user=UserFactory(), ai_role="client")
    assert RoleCard.objects.count() == 3
    assert session.practice.role_card in RoleCard.objects.all()


def test_ai_counselor_greets_first_with_the_retrieval_partner_built_on_demand(
    scored_sessions, django_capture_on_commit_callbacks
):
    trainee = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        session = practice_session_start(user=trainee, ai_role="counselor")
    assert session.client == trainee
    assert session.counselor.profile.display_name == "AIカウンセラー"
    greeting = Message.objects.get(session=session)
    assert greeting.seq == 1 and greeting.role == Role.COUNSELOR and greeting.sender == session.counselor
    assert greeting.text.strip()
    practice = PracticeSession.objects.get(session=session)
    assert practice.state == GenerationState.IDLE and practice.replies == 1 and practice.attempts == 1
    # The index was built from the database and registered as the active default partner.
    assert session.counselor.partner_bot.key == "counselor"


def test_ai_counselor_with_a_chosen_model_version_gets_its_own_bot(scored_sessions, openai_server):
    version = model_version(
        kind="counselor", backend="openai", config={"base_url": openai_server, "model": "test"}, name="相談モデルA"
    )
    session = practice_session_start(user=UserFactory(), ai_role="counselor", model_version_id=version.pk)
    assert session.counselor.username == f"ai-counselor-{version.pk}"
    assert session.counselor.profile.display_name == "AIカウンセラー（相談モデルA）"
    assert session.practice.model_version == version


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"ai_role": "counselor", "model_version_id": "inactive"}, ERR_MODEL_UNAVAILABLE),
        ({"ai_role": "counselor", "model_version_id": "client_kind"}, ERR_MODEL_UNAVAILABLE),
        ({"ai_role": "counselor", "model_version_id": 999999}, ERR_MODEL_UNAVAILABLE),
        ({"ai_role": "client", "role_card_id": 999999}, ERR_ROLE_CARD_UNAVAILABLE),
        ({"ai_role": "client", "role_card_id": "inactive_card"}, ERR_ROLE_CARD_UNAVAILABLE),
        ({"ai_role": "observer"}, ERR_AI_ROLE),
    ],
)
def test_bad_start_requests_are_refused_and_nothing_is_saved(kwargs, error, role_card):
    inactive = model_version(kind="counselor", backend="retrieval", config={"index_path": "/nope"})
    inactive.is_active = False
    inactive.save()
    client_kind = model_version(kind="client", backend="retrieval", config={"index_path": "/nope"})
    inactive_card = RoleCard.objects.create(**{**_card_data(role_card), "name": "停止中", "is_active": False})
    lookup = {"inactive": inactive.pk, "client_kind": client_kind.pk, "inactive_card": inactive_card.pk}
    kwargs = {k: lookup.get(v, v) if isinstance(v, str) and k.endswith("_id") else v for k, v in kwargs.items()}
    user = UserFactory()
    before = _counts()
    with pytest.raises(PracticeError) as exc:
        practice_session_start(user=user, **kwargs)
    assert exc.value.message == error
    assert _counts() == before
    assert not PartnerBot.objects.exists()


def _card_data(card: RoleCard) -> dict:
    fields = ["gender", "age", "education", "occupation", "marital_status", "family", "big_five", "resistance"]
    return {f: getattr(card, f) for f in fields} | {"chief_complaint": card.chief_complaint}


def test_anonymous_users_and_bot_accounts_cannot_start(role_card, ready):
    with pytest.raises(PracticeError) as exc:
        practice_session_start(user=AnonymousUser(), ai_role="client", role_card_id=role_card.pk)
    assert exc.value.message == ERR_ANONYMOUS
    session = practice_session_start(user=UserFactory(), ai_role="client", role_card_id=role_card.pk)
    before = _counts()
    with pytest.raises(PracticeError) as exc:
        practice_session_start(user=session.client, ai_role="counselor")
    assert exc.value.message == ERR_NOT_TRAINEE
    inactive = UserFactory(is_active=False)
    with pytest.raises(PracticeError):
        practice_session_start(user=inactive, ai_role="client", role_card_id=role_card.pk)
    assert _counts() == before


def test_ai_client_over_long_reply_is_regenerated_and_only_the_accepted_one_is_stored(
    role_card, endpoint, django_capture_on_commit_callbacks
):
    model_version(kind="client", backend="openai", config={"base_url": endpoint.base_url, "model": "scripted"})
    long_reply = "残業が続いていて" + "本当に毎日つらいと感じています" * 20 + "。"
    good = "最近は残業続きで、夜になっても頭が冴えて眠れないんです。"
    endpoint.reply.queue[:] = [long_reply, good]
    trainee = UserFactory()
    session = practice_session_start(user=trainee, ai_role="client", role_card_id=role_card.pk)
    with django_capture_on_commit_callbacks(execute=True):  # message_created -> queued -> eager task
        message_create(session_id=session.pk, user=trainee, text="こんにちは。今日はどうされましたか。")
    ai = Message.objects.filter(session=session, role=Role.CLIENT)
    assert [m.text for m in ai] == [good]
    assert len(long_reply) > MAX_CLIENT_REPLY_CHARS
    assert len([r for r in endpoint.requests if r["model"] == "scripted"]) == 2


def test_a_reply_for_an_older_message_is_skipped_when_the_trainee_wrote_again(
    role_card, openai_server, django_capture_on_commit_callbacks
):
    model_version(kind="client", backend="openai", config={"base_url": openai_server, "model": "test"})
    trainee = UserFactory()
    session = practice_session_start(user=trainee, ai_role="client", role_card_id=role_card.pk)
    with django_capture_on_commit_callbacks(execute=False):  # the queued replies are not run here
        message_create(session_id=session.pk, user=trainee, text="こんにちは。")
        message_create(session_id=session.pk, user=trainee, text="今日はどんなお話でしょうか。")
    assert practice_reply_generate(session_id=session.pk, after_seq=1).status == "skipped"
    assert practice_reply_generate(session_id=session.pk, after_seq=2).status == "stored"
    assert practice_reply_generate(session_id=session.pk, after_seq=2).status == "skipped"  # already answered
    assert Message.objects.filter(session=session, role=Role.CLIENT).count() == 1


def test_retry_is_refused_for_strangers_ended_sessions_and_busy_partners(role_card, ready):
    trainee = UserFactory()
    session = practice_session_start(user=trainee, ai_role="client", role_card_id=role_card.pk)
    with pytest.raises(PracticeError) as exc:
        practice_reply_retry(session_id=session.pk, user=UserFactory())
    assert exc.value.message == ERR_NOT_PRACTICE
    with pytest.raises(PracticeError) as exc:
        practice_reply_retry(session_id=session.pk, user=session.client)  # the bot itself
    assert exc.value.message == ERR_NOT_PRACTICE
    PracticeSession.objects.filter(session=session).update(state=GenerationState.GENERATING)
    with pytest.raises(PracticeError) as exc:
        practice_reply_retry(session_id=session.pk, user=trainee)
    assert exc.value.message == ERR_RETRY_BUSY
    Session.objects.filter(pk=session.pk).update(status=SessionStatus.ENDED)
    with pytest.raises(PracticeError) as exc:
        practice_reply_retry(session_id=session.pk, user=trainee)
    assert exc.value.message == ERR_RETRY_ENDED


def _record_events(monkeypatch) -> list[dict]:
    """The events pushed to the session's sockets (recorded on their way to the real channel layer)."""
    from models_ml.practice.services import replies as services

    pushed: list[dict] = []
    original = services.session_notify

    def recording(*, session_id, event, audience=None):
        pushed.append(event)
        original(session_id=session_id, event=event, audience=audience)

    monkeypatch.setattr(services, "session_notify", recording)
    return pushed


@pytest.mark.parametrize(
    "case, code, error",
    [
        ("timeout", "timeout", ERR_TIME_LIMIT),
        ("deactivated", "model_missing", ERR_MODEL_MISSING),
        ("no_data", "model_missing", ERR_MODEL_MISSING),
    ],
)
def test_generation_failures_store_a_clear_error_and_no_message(case, code, error, openai_server, ready, monkeypatch):
    version = None
    if case in ("timeout", "deactivated"):
        config = {"base_url": openai_server, "model": "slow", "timeout": 0.5}
        version = model_version(kind="counselor", backend="openai", config=config)
    trainee = UserFactory()
    session = practice_session_start(
        user=trainee, ai_role="counselor", model_version_id=version.pk if version else None
    )  # not committed here: the greeting is generated below
    if case == "deactivated":
        version.is_active = False
        version.save()
    if case == "no_data":  # the rated sessions are gone before the built-in partner first answers
        Feedback.objects.all().delete()
    pushed = _record_events(monkeypatch)
    outcome = practice_reply_generate(session_id=session.pk, after_seq=0)
    assert outcome.status == "error"
    practice = PracticeSession.objects.get(session=session)
    assert practice.state == GenerationState.ERROR and str(error) in practice.last_error
    assert not Message.objects.filter(session=session).exists()
    assert [e["type"] for e in pushed] == ["ai.typing", "ai.error"]
    assert pushed[1]["code"] == code and pushed[1]["message"] == practice.last_error


def test_a_task_killed_by_the_hard_time_limit_leaves_a_retryable_error(role_card, ready):
    from models_ml.practice.services import practice_reply_fail

    trainee = UserFactory()
    session = practice_session_start(user=trainee, ai_role="client", role_card_id=role_card.pk)
    PracticeSession.objects.filter(session=session).update(state=GenerationState.GENERATING, reply_id="abc")
    practice_reply_fail(session_id=session.pk, message=str(ERR_TIME_LIMIT))
    practice = PracticeSession.objects.get(session=session)
    assert practice.state == GenerationState.ERROR and practice.last_error == str(ERR_TIME_LIMIT)
    practice_reply_retry(session_id=session.pk, user=trainee)  # no longer busy: the trainee may retry


def test_a_reply_whose_worker_was_lost_is_reaped_into_a_retryable_error(role_card, ready, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    from models_ml.practice.services import ERR_REPLY_WORKER_LOST, practice_replies_reap_stale, soft_time_limit_s

    trainee = UserFactory()
    lost = practice_session_start(user=trainee, ai_role="client", role_card_id=role_card.pk)
    running = practice_session_start(user=UserFactory(), ai_role="client", role_card_id=role_card.pk)
    long_ago = timezone.now() - timedelta(seconds=soft_time_limit_s() + 61)
    PracticeSession.objects.filter(session=lost).update(
        state=GenerationState.GENERATING, reply_id="r1", updated_at=long_ago
    )
    PracticeSession.objects.filter(session=running).update(state=GenerationState.GENERATING, reply_id="r2")
    pushed = _record_events(monkeypatch)
    assert practice_replies_reap_stale() == 1
    practice = PracticeSession.objects.get(session=lost)
    assert practice.state == GenerationState.ERROR and practice.last_error == str(ERR_REPLY_WORKER_LOST)
    assert [(e["type"], e["code"]) for e in pushed] == [("ai.error", "worker_lost")]
    assert PracticeSession.objects.get(session=running).state == GenerationState.GENERATING  # still in time
    practice_reply_retry(session_id=lost.pk, user=trainee)


@pytest.mark.parametrize("ai_role", ["client", "counselor"])
def test_start_is_refused_and_creates_nothing_while_no_partner_can_answer(ai_role, role_card):
    before = (Session.objects.count(), PracticeSession.objects.count(), PartnerBot.objects.count())
    with pytest.raises(PracticeError) as exc:
        practice_session_start(user=UserFactory(), ai_role=ai_role)
    assert exc.value.message == ERR_NO_PARTNER and exc.value.code == "unavailable"
    assert (Session.objects.count(), PracticeSession.objects.count(), PartnerBot.objects.count()) == before


def test_a_configured_endpoint_makes_the_partner_available_without_rated_sessions(role_card, settings):
    endpoint = {"backend": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "kokoro"}
    settings.KOKORO_GENERATION_BACKENDS = {"client": endpoint}
    session = practice_session_start(user=UserFactory(), ai_role="client")
    assert session.source == SessionSource.AI and not Feedback.objects.exists()
