"""Staff-only pages: permissions, rendering, and the forms calling the services."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils.html import escape

from models_ml.arena import services
from models_ml.arena.models import ArenaDialogue, SimulationJob

pytestmark = pytest.mark.django_db

PAGES = [
    ("arena:simulations", {}),
    ("arena:arena_start", {}),
    ("arena:judge_jobs", {}),
    ("arena:leaderboard", {}),
    ("arena:evaluations", {}),
    ("arena:labels", {}),
]


@pytest.mark.parametrize(("name", "kwargs"), PAGES)
def test_anonymous_is_sent_to_login_and_non_staff_gets_403(client, plain_user, name, kwargs):
    url = reverse(name, kwargs=kwargs)
    response = client.get(url)
    assert response.status_code == 302 and "login" in response["Location"]
    client.force_login(plain_user)
    assert client.get(url).status_code == 403


@pytest.mark.parametrize(("name", "kwargs"), PAGES)
def test_staff_sees_every_page(client, staff_user, name, kwargs):
    client.force_login(staff_user)
    assert client.get(reverse(name, kwargs=kwargs)).status_code == 200


def test_non_staff_cannot_judge_or_start_jobs(client, plain_user, role_card):
    client.force_login(plain_user)
    assert client.post(reverse("arena:simulations"), {"role_cards": [role_card.pk]}).status_code == 403
    assert client.post(reverse("arena:arena_judge", args=[1]), {"position": "1"}).status_code == 403
    assert client.get(reverse("arena:job_detail", args=["eval", 1])).status_code == 403
    assert not SimulationJob.objects.exists()


def test_simulation_form_starts_a_job_and_the_detail_page_links_transcripts(
    client, staff_user, version, role_card, django_capture_on_commit_callbacks
):
    client.force_login(staff_user)
    c, s = version("client", kind="client"), version("counselor-close-1")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("arena:simulations"),
            {
                "role_cards": [role_card.pk],
                "sessions_per_card": 1,
                "max_turns": 10,
                "client_version": c.pk,
                "counselor_version": s.pk,
            },
        )
    job = SimulationJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("arena:simulation_detail", args=[job.pk])
    page = client.get(reverse("arena:simulation_progress", args=[job.pk])).content.decode()
    session_id = job.items.get().session_id
    assert reverse("dataset:session_detail", args=[session_id]) in page
    assert "hx-trigger" not in page  # finished: no more polling


def test_simulation_form_errors_are_shown(client, staff_user, role_card):
    client.force_login(staff_user)
    response = client.post(
        reverse("arena:simulations"), {"role_cards": [role_card.pk], "sessions_per_card": 0, "max_turns": 10}
    )
    assert response.status_code == 200 and response.context["form"].errors
    assert not SimulationJob.objects.exists()


def test_arena_page_hides_model_names_and_htmx_pick_returns_the_next_pair(
    client, staff_user, version, role_card, django_capture_on_commit_callbacks
):
    client.force_login(staff_user)
    good, plain, c = version("counselor-good"), version("counselor-plain"), version("client", kind="client")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            reverse("arena:arena_start"),
            {"role_card": role_card.pk, "model_a": good.pk, "model_b": plain.pk, "client_version": c.pk},
        )
    dialogue = ArenaDialogue.objects.get()
    assert response["Location"] == reverse("arena:arena_dialogue", args=[dialogue.pk])
    waiting = client.get(response["Location"]).content.decode()  # the start answered before any generation
    assert 'data-generating="yes"' in waiting and reverse("arena:arena_board", args=[dialogue.pk]) in waiting
    callbacks[0]()  # the job: greeting + first pair
    page = client.get(response["Location"]).content.decode()
    assert 'data-generating="no"' in page
    assert "counselor-good" not in page and "counselor-plain" not in page
    dialogue.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        fragment = client.post(
            reverse("arena:arena_judge", args=[dialogue.pk]),
            {"position": "1", "token": dialogue.pending["token"]},
            HTTP_HX_REQUEST="true",
        )
    assert fragment.status_code == 200 and 'data-generating="yes"' in fragment.content.decode()
    assert dialogue.battles.count() == 1 and len(callbacks) == 1
    callbacks[0]()
    board = client.get(reverse("arena:arena_board", args=[dialogue.pk])).content.decode()
    assert 'data-generating="no"' in board and 'name="position"' in board


def test_arena_start_is_disabled_with_the_reason_when_one_counselor_model_exists(
    client, staff_user, version, role_card
):
    client.force_login(staff_user)
    only = version("counselor-good")
    reason = str(services.ERR_ONE_COUNSELOR % {"name": f"counselor-good #{only.pk}"})
    page = client.get(reverse("arena:arena_start")).content.decode()
    assert page.count(escape(reason)) == 1
    assert re.search(r'<button[^>]*id="ar-start"[^>]*disabled', page)
    # a forced POST (default choices) is refused the same way: one message, nothing saved
    page = client.post(reverse("arena:arena_start"), {"role_card": role_card.pk}).content.decode()
    assert page.count(escape(reason)) == 1 and not ArenaDialogue.objects.exists()


def test_arena_error_is_shown_once(client, staff_user, version, role_card):
    client.force_login(staff_user)
    good, _plain = version("counselor-good"), version("counselor-plain")
    page = client.get(reverse("arena:arena_start")).content.decode()
    assert 'id="ar-not-ready"' not in page and not re.search(r'<button[^>]*id="ar-start"[^>]*disabled', page)
    response = client.post(
        reverse("arena:arena_start"), {"role_card": role_card.pk, "model_a": good.pk, "model_b": good.pk}
    )
    reason = str(services.ERR_SAME_BACKEND % {"name": f"counselor-good #{good.pk}"})
    assert response.status_code == 200 and response.content.decode().count(escape(reason)) == 1
    assert not ArenaDialogue.objects.exists()


def test_leaderboard_renders_chart_data_safely(client, staff_user):
    from models_ml.arena.models import ArenaBattle

    ArenaBattle.objects.create(
        model_a="<script>x</script>", model_b="b", reply_a="r", reply_b="s", judge_kind="llm", winner="a", pair_key="k"
    )
    client.force_login(staff_user)
    page = client.get(reverse("arena:leaderboard")).content.decode()
    assert "<script>x</script>" not in page
    assert 'id="ar-chart-data"' in page and "chart-4.6.1.umd.min.js" in page


def test_leaderboard_ranks_human_and_llm_judges_separately(client, staff_user):
    from models_ml.arena.models import ArenaBattle

    for i in range(3):
        ArenaBattle.objects.create(
            model_a="m-human-only",
            model_b="m-both",
            reply_a="r",
            reply_b="s",
            judge_kind="human",
            judge_user=staff_user,
            winner="a",
            pair_key=f"h{i}",
        )
        ArenaBattle.objects.create(
            model_a="m-llm-only",
            model_b="m-both",
            reply_a="r",
            reply_b="s",
            judge_kind="llm",
            judge_model="j",
            winner="b",
            pair_key=f"l{i}",
        )
    client.force_login(staff_user)
    page = client.get(reverse("arena:leaderboard")).content.decode()
    human = page[page.index('id="ar-board-human"') : page.index('id="ar-board-llm"')]
    llm = page[page.index('id="ar-board-llm"') : page.index('id="ar-between"')]
    assert "m-human-only" in human and "m-llm-only" not in human
    assert "m-llm-only" in llm and "m-human-only" not in llm
    assert "Bradley-Terry" in page and "Elo)" not in page


def test_simulation_page_points_to_the_role_card_library_when_there_is_none(client, staff_user):
    client.force_login(staff_user)
    page = client.get(reverse("arena:simulations")).content.decode()
    assert reverse("partners:role_cards") in page


def test_simulation_form_refuses_a_japanese_card_for_an_english_simulation(client, staff_user, role_card):
    from models_ml.arena.services.common import ERR_CARD_LANGUAGE

    client.force_login(staff_user)
    post = {"role_cards": [role_card.pk], "sessions_per_card": 1, "max_turns": 10, "language": "en"}
    response = client.post(reverse("arena:simulations"), post)
    assert response.status_code == 200 and not SimulationJob.objects.exists()
    expected = str(ERR_CARD_LANGUAGE % {"language": "en", "cards": role_card.name})
    assert expected in response.context["form"].non_field_errors()
