"""Coaching pages over HTTP: permissions, the timeline (signals, reference, suggestions states), the live
panel on the counselor's chat page only, the toggle, and the progress page's skill charts."""

from __future__ import annotations

import pytest
from django.urls import reverse

from models_ml.coaching.models import CODE_UNAVAILABLE, CoachingSettings, SuggestionRun
from models_ml.coaching.signals_text import SLOW_RESPONSE_S
from models_ml.jobs.models import JobStatus
from roleplay.models import SessionSource, SessionStatus
from tests.factories import UserFactory

from .conftest import make_imported, make_session

pytestmark = pytest.mark.django_db


def as_user(client, user):
    client.force_login(user)
    return client


def test_client_role_participant_and_strangers_get_404_on_the_timeline(client):
    session = make_session()
    url = reverse("coaching:timeline", args=[session.pk])
    assert as_user(client, session.client).get(url).status_code == 404
    assert as_user(client, UserFactory()).get(url).status_code == 404
    assert as_user(client, session.client).get(reverse("coaching:timeline_body", args=[session.pk])).status_code == 404


def test_anonymous_users_are_sent_to_login(client):
    session = make_session()
    response = client.get(reverse("coaching:timeline", args=[session.pk]))
    assert response.status_code == 302 and "login" in response["Location"]


def test_counselor_and_staff_see_the_timeline(client):
    session = make_session()
    url = reverse("coaching:timeline", args=[session.pk])
    assert as_user(client, session.counselor).get(url).status_code == 200
    assert as_user(client, UserFactory(is_staff=True)).get(url).status_code == 200


def test_staff_follow_a_run_by_push_and_the_counselor_keeps_the_polling(client):
    session = make_session()
    run = SuggestionRun.objects.create(session=session, status=JobStatus.RUNNING, done=1, total=4)
    url = reverse("coaching:timeline", args=[session.pk])
    staff_page = as_user(client, UserFactory(is_staff=True)).get(url).content.decode()
    assert "js/jobs_live.js" in staff_page and f'data-job="{run.live_ref}"' in staff_page  # ws/jobs/ is staff-only
    counselor_page = as_user(client, session.counselor).get(url).content.decode()
    assert "js/jobs_live.js" not in counselor_page and 'hx-trigger="every 1s"' in counselor_page


def test_live_sessions_have_no_timeline_yet(client):
    session = make_session(status=SessionStatus.LIVE)
    assert as_user(client, session.counselor).get(reverse("coaching:timeline", args=[session.pk])).status_code == 404


def test_without_a_generation_backend_the_page_works_with_a_notice_and_no_suggestions(client):
    session = make_session()
    response = as_user(client, session.counselor).get(reverse("coaching:timeline", args=[session.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="coach-unavailable"' in body and "coach-suggestion" not in body
    assert "AIカウンセラーのモデルが利用できないため" in body  # Japanese first
    unavailable = SuggestionRun.objects.get(session=session)
    assert (unavailable.status, unavailable.error_code) == (JobStatus.FAILED, CODE_UNAVAILABLE)
    # The signals still work: 5 counselor messages, 3 of them questions (the opening one included).
    stats = response.context["stats"]
    assert stats["counselor_messages"] == 5 and stats["questions"] == 3 and stats["reflections"] == 2
    kinds = [r.signals.kind for r in response.context["rows"] if r.signals]
    assert kinds == ["question", "reflection", "question", "question", "summary"]


def test_timeline_of_an_imported_dataset_session_compares_with_high_sessions(client):
    high = [make_imported(total) for total in (75, 85, 95)]
    make_imported(40)  # Low: not in the reference
    response = as_user(client, UserFactory(is_staff=True)).get(reverse("coaching:timeline", args=[high[0].pk]))
    assert response.status_code == 200
    reference = response.context["reference"]
    assert reference.source_count == 3 and reference.sample_size == 3
    row = next(c for c in response.context["comparison"] if c["key"] == "question_ratio")
    assert row["value"] == 0.6 and row["percentile"] == 100 and row["median"] == 0.6
    assert response.context["rows"][4].response_s == 160.0


def test_suggestions_with_the_retrieval_backend_are_shown_beside_the_counselor_turns(
    client, retrieval_model, django_capture_on_commit_callbacks
):
    session = make_session()
    with django_capture_on_commit_callbacks(execute=True):
        response = as_user(client, session.counselor).get(reverse("coaching:timeline", args=[session.pk]))
    run = SuggestionRun.objects.get(session=session)
    # Eager Celery: the task ran on commit; the page rendered the pending state, the body now has them.
    assert run.status == JobStatus.SUCCEEDED and run.done == run.total == 4 and run.backend == "retrieval"
    assert set(run.suggestions) == {"3", "5", "7", "9"}
    assert 'id="coach-run"' in response.content.decode()
    body = as_user(client, session.counselor).get(reverse("coaching:timeline_body", args=[session.pk]))
    html = body.content.decode()
    assert html.count('class="coach-suggestion"') == 4 and 'id="coach-done"' in html
    assert all(run.suggestions[k] for k in run.suggestions)


def test_a_pending_run_polls_and_shows_its_progress(client):
    session = make_session()
    SuggestionRun.objects.create(session=session, status=JobStatus.RUNNING, done=1, total=4)
    html = as_user(client, session.counselor).get(reverse("coaching:timeline_body", args=[session.pk])).content.decode()
    assert 'hx-trigger="every 1s"' in html and "1 / 4" in html


def test_a_done_run_stops_polling(client):
    session = make_session()
    SuggestionRun.objects.create(
        session=session, status=JobStatus.SUCCEEDED, done=4, total=4, suggestions={"3": "テスト"}
    )
    html = as_user(client, session.counselor).get(reverse("coaching:timeline_body", args=[session.pk])).content.decode()
    assert "hx-trigger" not in html and "テスト" in html


def test_restart_after_a_model_becomes_available_computes_the_suggestions(client, django_capture_on_commit_callbacks):
    session = make_session()
    as_user(client, session.counselor).get(reverse("coaching:timeline", args=[session.pk]))
    unavailable = SuggestionRun.objects.get(session=session)
    assert (unavailable.status, unavailable.error_code) == (JobStatus.FAILED, CODE_UNAVAILABLE)
    from models_ml.finetuning.services import retrieval_index_build

    make_session(total=90)
    retrieval_index_build(role="counselor")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("coaching:suggestions_restart", args=[session.pk]))
    assert response.status_code == 302
    assert SuggestionRun.objects.get(session=session).status == JobStatus.SUCCEEDED


def test_client_cannot_restart_suggestions(client):
    session = make_session()
    assert (
        as_user(client, session.client).post(reverse("coaching:suggestions_restart", args=[session.pk])).status_code
        == 404
    )
    assert not SuggestionRun.objects.exists()


# --- live panel -----------------------------------------------------------------------------------
def test_live_panel_is_rendered_for_the_counselor_and_never_for_the_client(client):
    session = make_session(status=SessionStatus.LIVE, source=SessionSource.AI)
    counselor_page = as_user(client, session.counselor).get(reverse("roleplay:session", args=[session.pk]))
    assert 'id="coach-panel"' in counselor_page.content.decode()
    assert f'data-silence-s="{SLOW_RESPONSE_S}"' in counselor_page.content.decode()  # the derived threshold
    client_page = as_user(client, session.client).get(reverse("roleplay:session", args=[session.pk]))
    body = client_page.content.decode()
    assert client_page.status_code == 200 and "coach-panel" not in body and "coaching_live.js" not in body


def test_live_coaching_is_on_by_default_for_ai_sessions_and_off_for_human_ones(client):
    ai = make_session(status=SessionStatus.LIVE, source=SessionSource.AI)
    human = make_session(status=SessionStatus.LIVE)
    html = as_user(client, ai.counselor).get(reverse("roleplay:session", args=[ai.pk])).content.decode()
    assert 'data-enabled="true"' in html
    html = as_user(client, human.counselor).get(reverse("roleplay:session", args=[human.pk])).content.decode()
    assert 'data-enabled="false"' in html


def test_counselor_toggles_live_coaching_and_the_state_is_computed(client, django_capture_on_commit_callbacks):
    session = make_session(status=SessionStatus.LIVE)
    with django_capture_on_commit_callbacks(execute=True):
        response = as_user(client, session.counselor).post(
            reverse("coaching:live_toggle", args=[session.pk]), {"enabled": "1"}
        )
    assert response.status_code == 200 and 'data-enabled="true"' in response.content.decode()
    row = CoachingSettings.objects.get(session=session)
    assert row.enabled and row.state["type"] == "coaching" and row.state["status"] == "no_model"
    assert row.state["question_ratio"] == 0.6
    client.post(reverse("coaching:live_toggle", args=[session.pk]), {"enabled": "0"})
    assert not CoachingSettings.objects.get(session=session).enabled


def test_client_cannot_toggle_or_read_the_live_panel(client):
    session = make_session(status=SessionStatus.LIVE)
    c = as_user(client, session.client)
    assert c.post(reverse("coaching:live_toggle", args=[session.pk]), {"enabled": "1"}).status_code == 404
    assert c.get(reverse("coaching:live_panel", args=[session.pk])).status_code == 404
    assert not CoachingSettings.objects.exists()


# --- progress page ----------------------------------------------------------------------------------
def test_progress_page_charts_the_signals_and_predicted_vs_actual_scores(client):
    from models_ml.scoring.models import Prediction, PredictionStatus

    first = make_session(total=50)
    second = make_session(total=80, counselor=first.counselor)
    Prediction.objects.create(session=second, status=PredictionStatus.DONE, items=[4] * 20, total=78)
    response = as_user(client, first.counselor).get(reverse("feedback:progress"))
    skills = response.context["skills"]
    assert skills["count"] == 2
    assert skills["actual_total"] == [50, 80] and skills["predicted_total"] == [None, 78]
    assert skills["question_ratio"] == [0.6, 0.6] and skills["predicted_items"] == [4.0] * 20
    html = response.content.decode()
    assert 'id="fb-skills-data"' in html and 'id="fb-signals-chart"' in html
    assert 'data-questions="質問の割合（%）"' in html
    assert reverse("coaching:timeline", args=[second.pk]) in html


def test_progress_page_without_sessions_has_no_skill_charts(client):
    response = as_user(client, UserFactory()).get(reverse("feedback:progress"))
    assert response.context["skills"] is None and "fb-skills-data" not in response.content.decode()
