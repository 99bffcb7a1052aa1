"""Simulation jobs end to end: retrieval backends (CPU, built from factory sessions) and the localhost server."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from models_ml.arena import services
from models_ml.arena.models import JobStatus, SimulatedSession, SimulationJob
from models_ml.llm.backends import ERR_ENDPOINT_STATUS
from roleplay.models import EndReason, Message, Session, SessionSource, SessionStatus

from .conftest import CLIENT_TEXT, CLOSING_TEXT, COUNSELOR_TEXT

pytestmark = pytest.mark.django_db


def _run(**kwargs) -> SimulationJob:
    from django.db import transaction

    with transaction.atomic():
        job = services.simulation_job_create(**kwargs)
    job.refresh_from_db()
    return job


def test_retrieval_simulation_stores_synthetic_sessions_with_bot_accounts(
    scored_sessions, role_cards, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = services.simulation_job_create(role_card_ids=[c.pk for c in role_cards], sessions_per_card=2, max_turns=8)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert (job.total, job.done, job.failed) == (4, 4, 0)
    items = list(job.items.select_related("session"))
    assert len(items) == 4
    for item in items:
        session = item.session
        assert session.source == SessionSource.SIMULATED and session.is_synthetic
        assert session.status == SessionStatus.ENDED
        assert session.client.partner_bot.key == "sim-client"
        assert session.counselor.partner_bot.key == "sim-counselor-default"
        assert not session.client.has_usable_password() and not session.counselor.has_usable_password()
        roles = list(Message.objects.filter(session=session).order_by("seq").values_list("role", flat=True))
        assert roles[0] == "client"  # the client greets first
        assert all(r != roles[i + 1] for i, r in enumerate(roles[:-1]))  # strict alternation
        assert len(roles) == item.turns <= 8
        assert item.end in ("closing", "max_turns")
    assert job.turns == sum(i.turns for i in items)
    assert job.fidelity["sessions"] == 4


def test_closing_phrase_at_turn_k_ends_the_session(version, role_card, django_capture_on_commit_callbacks):
    client, counselor = version("client", kind="client"), version("counselor-close-3")
    with django_capture_on_commit_callbacks(execute=True):
        job = services.simulation_job_create(
            role_card_ids=[role_card.pk], client_version_id=client.pk, counselor_version_id=counselor.pk
        )
    item = SimulatedSession.objects.get(job=job)
    assert item.status == JobStatus.SUCCEEDED and item.end == "closing"
    assert item.turns == 6  # client, counselor ×3 (the third closes)
    assert item.closing_phrase == "お大事に"
    texts = list(Message.objects.filter(session=item.session).order_by("seq").values_list("text", flat=True))
    assert texts == [CLIENT_TEXT, COUNSELOR_TEXT, CLIENT_TEXT, COUNSELOR_TEXT, CLIENT_TEXT, CLOSING_TEXT]
    assert item.session.end_reason == EndReason.COUNSELOR
    assert item.session.counselor.partner_bot.key == f"sim-counselor-{counselor.pk}"


def test_closing_phrases_setting_overrides_the_rules_list(
    version, role_card, settings, django_capture_on_commit_callbacks
):
    settings.KOKORO_CLOSING_PHRASES = ["存在しない締めの言葉"]
    client, counselor = version("client", kind="client"), version("counselor-close-1")
    with django_capture_on_commit_callbacks(execute=True):
        job = services.simulation_job_create(
            role_card_ids=[role_card.pk], client_version_id=client.pk, counselor_version_id=counselor.pk, max_turns=6
        )
    item = SimulatedSession.objects.get(job=job)
    assert item.end == "max_turns" and item.turns == 6
    assert item.session.end_reason == EndReason.TIME_UP


def test_flaky_turn_is_retried_and_succeeds(version, role_card, llm_stub, django_capture_on_commit_callbacks):
    client, counselor = version("client", kind="client"), version("counselor-flaky")
    with django_capture_on_commit_callbacks(execute=True):
        job = services.simulation_job_create(
            role_card_ids=[role_card.pk], client_version_id=client.pk, counselor_version_id=counselor.pk, max_turns=4
        )
    item = SimulatedSession.objects.get(job=job)
    assert item.status == JobStatus.SUCCEEDED and item.turns == 4
    flaky_calls = [r for r in llm_stub.requests if r["model"] == "counselor-flaky"]
    assert len(flaky_calls) >= 4  # two counselor turns, each failed once then retried


def test_failing_turn_records_failed_session_and_job_continues(
    version, role_cards, llm_stub, settings, django_capture_on_commit_callbacks
):
    settings.KOKORO_SIM_TURN_RETRIES = 2
    client, counselor = version("client", kind="client"), version("counselor-fail")
    before = len([r for r in llm_stub.requests if r["model"] == "counselor-fail"])
    with django_capture_on_commit_callbacks(execute=True):
        job = services.simulation_job_create(
            role_card_ids=[c.pk for c in role_cards], client_version_id=client.pk, counselor_version_id=counselor.pk
        )
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert (job.done, job.failed) == (0, 2)  # both sessions tried: the job went on after the first failure
    after = len([r for r in llm_stub.requests if r["model"] == "counselor-fail"])
    assert after - before == 4  # 2 sessions × 2 tries
    for item in job.items.all():
        assert item.status == JobStatus.FAILED
        detail = ERR_ENDPOINT_STATUS.format(status=500, detail="Error code: 500 - scripted failure")
        assert item.error == str(services.ERR_TURN_FAILED % {"turn": 2, "tries": 2, "detail": detail})
        assert item.session.status == SessionStatus.CANCELLED


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"role_card_ids": []}, services.ERR_NO_CARDS),
        ({"sessions_per_card": 0}, services.ERR_SESSIONS_PER_CARD % {"max": services.MAX_SESSIONS_PER_CARD}),
        ({"max_turns": 51}, services.ERR_MAX_TURNS % {"max": services.MAX_TURNS}),
        ({"counselor_version_id": 999999}, services.ERR_VERSION_KIND % {"id": 999999, "kind": "counselor"}),
    ],
)
def test_bad_simulation_input_is_refused_and_nothing_saved(role_card, kwargs, error):
    params = {"role_card_ids": [role_card.pk], **kwargs}
    with pytest.raises(services.ArenaError) as exc:
        services.simulation_job_create(**params)
    assert str(exc.value) == str(error)
    assert not SimulationJob.objects.exists() and not SimulatedSession.objects.exists()


def test_synthetic_export_and_fidelity_command(version, role_cards, tmp_path, django_capture_on_commit_callbacks):
    client, counselor = version("client-card", kind="client"), version("counselor-close-2")
    with django_capture_on_commit_callbacks(execute=True):
        job = services.simulation_job_create(
            role_card_ids=[c.pk for c in role_cards], client_version_id=client.pk, counselor_version_id=counselor.pk
        )
    call_command("export_simulated", str(tmp_path))
    files = sorted(tmp_path.glob("sim-*.json"))
    assert len(files) == 2
    obj = json.loads(files[0].read_text(encoding="utf-8"))
    assert obj["review_by_client_jp"] is None and obj["review_by_client_en"] is None
    assert obj["synthetic"]["simulation_job"] == job.pk and obj["synthetic"]["end"] == "closing"
    assert [t["role"] for t in obj["dialogue"]][:2] == ["client", "counselor"]
    # The human dataset exporter leaves synthetic sessions out by default (and has no feedback for them).
    from feedback.dataset.selectors import ExportOptions, export_feedback_queryset

    assert (
        not export_feedback_queryset(ExportOptions("all", include_synthetic=True))
        .filter(session__is_synthetic=True)
        .exists()
    )
    assert Session.objects.filter(is_synthetic=True).count() == 2

    from io import StringIO

    out = StringIO()
    call_command("client_fidelity", "--json", stdout=out)
    result = json.loads(out.getvalue())
    assert result["sessions"] == 2
    # Each client speaks about its own complaint: the matched overlap beats the random pairing.
    assert result["matched"] > result["random"]


def test_a_person_named_like_a_bot_is_never_used_as_the_simulated_client(
    scored_sessions, role_cards, django_capture_on_commit_callbacks
):
    from tests.factories import UserFactory

    person = UserFactory(username="ai-sim-client")
    with django_capture_on_commit_callbacks(execute=True):
        job = services.simulation_job_create(role_card_ids=[role_cards[0].pk], sessions_per_card=1, max_turns=4)
    session = job.items.get().session
    assert session.client != person
    assert session.client.username.startswith("ai-sim-client-")
    assert not session.client.has_usable_password()


@pytest.mark.parametrize("protocol", ["interactive_agents", "platform"])
def test_the_simulation_protocol_picks_the_prompts_and_who_is_refined(
    protocol, settings, version, role_card, llm_stub, django_capture_on_commit_callbacks
):
    from models_ml.llm.ia_prompts import IA_COUNSELOR_SYSTEM_PROMPT
    from models_ml.llm.prompts import COUNSELOR_SYSTEM_PROMPT

    settings.KOKORO_SIM_PROTOCOL = protocol
    client, counselor = version("client", kind="client"), version("counselor-close-2")
    start = len(llm_stub.requests)
    with django_capture_on_commit_callbacks(execute=True):
        job = services.simulation_job_create(
            role_card_ids=[role_card.pk], client_version_id=client.pk, counselor_version_id=counselor.pk
        )
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.done == 1
    sent = llm_stub.requests[start:]
    counselor_systems = {r["messages"][0]["content"] for r in sent if r["model"] == "counselor-close-2"}
    client_systems = {r["messages"][0]["content"] for r in sent if r["model"] == "client"}
    if protocol == "interactive_agents":
        assert counselor_systems == {IA_COUNSELOR_SYSTEM_PROMPT}
        assert all(s.startswith("あなたは心理カウンセリングに来たクライアントです。") for s in client_systems)
    else:
        assert counselor_systems == {COUNSELOR_SYSTEM_PROMPT}
        assert all("文字以内" in s for s in client_systems)  # the platform's client rules


def test_an_unknown_simulation_protocol_is_a_clear_error(settings):
    from models_ml.arena import protocol

    settings.KOKORO_SIM_PROTOCOL = "freestyle"
    with pytest.raises(ValueError, match="KOKORO_SIM_PROTOCOL must be one of"):
        protocol.counselor_params()


def test_fidelity_is_equation_1_of_the_paper(version, role_card, django_capture_on_commit_callbacks):
    from models_ml.arena import metrics, selectors

    client, counselor = version("client-card", kind="client"), version("counselor-close-2")
    with django_capture_on_commit_callbacks(execute=True):
        job = services.simulation_job_create(
            role_card_ids=[role_card.pk], client_version_id=client.pk, counselor_version_id=counselor.pk
        )
    item = job.items.get()
    card_words = metrics.content_words(selectors.role_card_text(role_card))
    said = metrics.content_words(
        "\n".join(Message.objects.filter(session=item.session, role="client").values_list("text", flat=True))
    )
    assert item.fidelity == pytest.approx(len(card_words & said) / len(card_words))
    assert 0 < item.fidelity < 1
