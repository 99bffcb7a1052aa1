"""Feedback pages over HTTP: the form (every refusal changes nothing), result, progress, staff lists."""

import json

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape

from feedback.items import ITEM_FIELDS, ITEM_LABELS_EN, ITEMS, SCREENING_FIELDS, SCREENINGS
from feedback.models import Feedback
from feedback.selectors import session_transcript_url
from feedback.services import (
    ERR_ALREADY_SUBMITTED,
    ERR_ITEM_MISSING,
    ERR_ITEM_RANGE,
    ERR_NOT_CLIENT,
    ERR_NOT_ENDED,
)
from kokoro_site.permissions import ERR_STAFF_ONLY
from roleplay.models import SessionStatus
from tests.factories import FeedbackFactory, SessionFactory, UserFactory

from .helpers import db_snapshot, ended_session, values

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _japanese():
    with translation.override("ja"):
        yield


def form_url(session) -> str:
    return reverse("feedback:form", args=[session.pk])


def result_url(session) -> str:
    return reverse("feedback:result", args=[session.pk])


def as_user(client, user):
    client.force_login(user)
    return client


def post_data(default: int = 4, **overrides) -> dict:
    data = {k: str(v) for k, v in values(default).items()}
    data.update(overrides)
    return data


def assert_shows(response, message) -> None:
    assert escape(str(message)) in response.content.decode()


# --- the form -----------------------------------------------------------------------------------
def test_client_sees_the_twenty_items_in_japanese_with_a_zero_to_five_scale(client):
    session = ended_session()
    response = as_user(client, session.client).get(form_url(session))
    assert response.status_code == 200
    html = response.content.decode()
    for item in ITEMS:
        assert escape(item.jp) in html
        for v in range(6):
            assert f'name="{item.field}" value="{v}"' in html
    for screening in SCREENINGS:
        assert f'name="{screening.field}"' in html and escape(screening.jp) in html
    assert "この相談での目標の明確化" in html and 'type="checkbox"' in html


def test_form_in_english_shows_the_english_meaning_of_each_item(client):
    session = ended_session()
    client.cookies["django_language"] = "en"
    response = as_user(client, session.client).get(form_url(session), HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert all(escape(ITEM_LABELS_EN[i.field]) in html for i in ITEMS)
    assert ITEMS[0].jp not in html


def test_client_submits_and_the_server_computes_the_total_ignoring_a_posted_total(client):
    session = ended_session()
    data = post_data(3, total="100", unwilling_to_continue="on")
    response = as_user(client, session.client).post(form_url(session), data)
    assert response.status_code == 302 and response["Location"] == form_url(session)
    feedback = Feedback.objects.get(session=session)
    assert feedback.total == 30 and feedback.unwilling_to_continue is True
    assert feedback.harmful_due_to_ignorance is False
    thanks = client.get(form_url(session))
    assert thanks.status_code == 200 and "feedback/submitted.html" in [t.name for t in thanks.templates]


def test_second_submission_shows_an_error_and_keeps_the_first(client):
    session = ended_session()
    as_user(client, session.client).post(form_url(session), post_data(2))
    before = db_snapshot()
    response = client.post(form_url(session), post_data(5))
    assert response.status_code == 409
    assert_shows(response, ERR_ALREADY_SUBMITTED)
    assert db_snapshot() == before and Feedback.objects.get().total == 40


@pytest.mark.parametrize("who", ["counselor", "stranger", "staff"])
def test_post_by_anyone_but_the_client_is_forbidden_and_stores_nothing(client, who):
    session = ended_session()
    user = {"counselor": session.counselor, "stranger": UserFactory(), "staff": UserFactory(is_staff=True)}[who]
    response = as_user(client, user).post(form_url(session), post_data())
    if who == "stranger":  # not a participant: as if the session did not exist
        assert response.status_code == 404
    else:
        assert response.status_code == 403
        assert_shows(response, ERR_NOT_CLIENT)
    assert not Feedback.objects.exists()


def test_get_by_the_counselor_is_forbidden(client):
    session = ended_session()
    response = as_user(client, session.counselor).get(form_url(session))
    assert response.status_code == 403
    assert_shows(response, ERR_NOT_CLIENT)


def test_anonymous_post_is_sent_to_login_and_stores_nothing(client):
    session = ended_session()
    response = client.post(form_url(session), post_data())
    assert response.status_code == 302 and reverse("login") in response["Location"]
    assert not Feedback.objects.exists()


@pytest.mark.parametrize("bad", ["6", "-1", "abc", "", "2.5"])
def test_value_outside_zero_to_five_shows_an_error_and_stores_nothing(client, bad):
    session = ended_session()
    response = as_user(client, session.client).post(form_url(session), post_data(felt_respected=bad))
    assert response.status_code == 400
    assert_shows(response, ERR_ITEM_MISSING if bad == "" else ERR_ITEM_RANGE)
    assert not Feedback.objects.exists()


def test_missing_item_shows_an_error_and_stores_nothing(client):
    session = ended_session()
    data = post_data()
    del data[ITEM_FIELDS[11]]
    response = as_user(client, session.client).post(form_url(session), data)
    assert response.status_code == 400
    assert_shows(response, ERR_ITEM_MISSING)
    assert 'fb-item-error" data-item="conversation_ended_well"' in response.content.decode()
    assert not Feedback.objects.exists()


def test_answers_are_kept_when_the_form_comes_back_with_an_error(client):
    session = ended_session()
    data = post_data(5)
    del data[ITEM_FIELDS[0]]
    response = as_user(client, session.client).post(form_url(session), data)
    assert f'value="5" id="id_{ITEM_FIELDS[1]}_5" required checked' in response.content.decode()


@pytest.mark.parametrize("status", [SessionStatus.LIVE, SessionStatus.SCHEDULED])
def test_session_not_ended_shows_an_error_and_stores_nothing(client, status):
    session = SessionFactory(status=status)
    c = as_user(client, session.client)
    assert c.get(form_url(session)).status_code == 409
    response = c.post(form_url(session), post_data())
    assert response.status_code == 409
    assert_shows(response, ERR_NOT_ENDED)
    assert not Feedback.objects.exists()


def test_unknown_session_is_not_found(client):
    assert as_user(client, UserFactory()).get(reverse("feedback:form", args=[999999])).status_code == 404


# --- the counselor's result ---------------------------------------------------------------------
def test_counselor_sees_the_waiting_state_before_the_feedback(client):
    session = ended_session()
    response = as_user(client, session.counselor).get(result_url(session))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="fb-waiting"' in html and 'id="fb-result-config"' in html
    assert "models_ml/_prediction_panel.html" in [t.name for t in response.templates]
    config = response.context["config"]
    assert config["ws_path"] == f"/ws/sessions/{session.pk}/" and config["has_feedback"] is False


def test_counselor_sees_total_items_by_aspect_and_screenings(client):
    feedback = FeedbackFactory(total=37, felt_respected=5, unwilling_to_continue=True)
    response = as_user(client, feedback.counselor).get(result_url(feedback.session))
    html = response.content.decode()
    assert 'id="fb-total">37<' in html
    chart = json.loads(html.split('id="fb-item-chart-data" type="application/json">')[1].split("</script>")[0])
    assert len(chart["labels"]) == 20
    assert len(chart["datasets"]) == 7  # one per aspect
    values_by_item = [next(v for d in chart["datasets"] if (v := d["data"][i]) is not None) for i in range(20)]
    assert values_by_item == feedback.item_values
    assert response.context["breakdown"]["screenings"][2]["checked"] is True


@pytest.mark.parametrize(("who", "status"), [("client", 403), ("stranger", 404)])
def test_result_is_forbidden_to_the_client_and_not_found_for_strangers(client, who, status):
    feedback = FeedbackFactory()
    user = feedback.client if who == "client" else UserFactory()
    assert as_user(client, user).get(result_url(feedback.session)).status_code == status
    fragment = reverse("feedback:result_fragment", args=[feedback.session_id])
    assert client.get(fragment).status_code == status


def test_staff_sees_the_result_with_a_transcript_link(client):
    feedback = FeedbackFactory()
    response = as_user(client, UserFactory(is_staff=True)).get(result_url(feedback.session))
    assert response.status_code == 200
    assert escape(session_transcript_url(feedback.session_id)) in response.content.decode()


def test_fragment_switches_from_waiting_to_the_result_once_submitted(client):
    session = ended_session()
    fragment = reverse("feedback:result_fragment", args=[session.pk])
    c = as_user(client, session.counselor)
    assert 'id="fb-waiting"' in c.get(fragment).content.decode()
    FeedbackFactory(session=session, total=55)
    html = c.get(fragment).content.decode()
    assert 'id="fb-result-body"' in html and 'data-total="55"' in html and "<html" not in html


# --- progress -----------------------------------------------------------------------------------
def test_progress_shows_totals_over_sessions_and_item_averages(client):
    counselor = UserFactory()
    FeedbackFactory(session=ended_session(counselor=counselor), total=40, felt_respected=1)
    FeedbackFactory(session=ended_session(counselor=counselor), total=80, felt_respected=4)
    FeedbackFactory(total=10)  # someone else's
    response = as_user(client, counselor).get(reverse("feedback:progress"))
    progress = response.context["progress"]
    assert progress["count"] == 2 and progress["mean_total"] == 60
    assert progress["charts"]["totals"]["values"] == [40, 80]
    respected = next(r for r in progress["item_means"] if r["number"] == 2)
    assert respected["mean"] == 2.5
    assert 'id="fb-progress-data"' in response.content.decode()


def test_ai_practice_is_kept_out_of_the_progress_and_skill_trends(client):
    from roleplay.models import SessionSource

    counselor = UserFactory()
    FeedbackFactory(session=ended_session(counselor=counselor), total=70)
    FeedbackFactory(session=ended_session(counselor=counselor, source=SessionSource.AI), total=10)
    ended_session(counselor=counselor, source=SessionSource.SIMULATED, is_synthetic=True)
    response = as_user(client, counselor).get(reverse("feedback:progress"))
    assert response.context["progress"]["count"] == 1
    assert response.context["progress"]["charts"]["totals"]["values"] == [70]
    assert response.context["skills"]["count"] == 1
    assert response.context["skills"]["actual_total"] == [70]


def test_progress_without_feedback_shows_an_empty_state(client):
    response = as_user(client, UserFactory()).get(reverse("feedback:progress"))
    assert response.status_code == 200 and response.context["progress"]["count"] == 0
    assert 'id="fb-progress-data"' not in response.content.decode()


# --- staff --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["feedback:list", "feedback:monitoring"])
def test_staff_pages_are_forbidden_to_other_users(client, name):
    response = as_user(client, UserFactory()).get(reverse(name))
    assert response.status_code == 403
    assert_shows(response, ERR_STAFF_ONLY)


def test_staff_list_shows_every_feedback_and_filters(client):
    low = FeedbackFactory(total=10)
    high = FeedbackFactory(total=90, harmful_due_to_ignorance=True)
    c = as_user(client, UserFactory(is_staff=True))
    shown = lambda params: {r["feedback"].pk for r in c.get(reverse("feedback:list"), params).context["rows"]}  # noqa: E731
    assert shown({}) == {low.pk, high.pk}
    assert shown({"total_min": "50"}) == {high.pk}
    assert shown({"screening": "any"}) == {high.pk}
    assert shown({"screening": "S3"}) == set()
    assert shown({"user": low.counselor.username}) == {low.pk}


def test_monitoring_lists_only_sessions_with_a_screening_item_and_links_the_transcript(client):
    FeedbackFactory(total=70)
    flagged = [FeedbackFactory(**{field: True}) for field in SCREENING_FIELDS]
    response = as_user(client, UserFactory(is_staff=True)).get(reverse("feedback:monitoring"))
    rows = response.context["rows"]
    assert {r["feedback"].pk for r in rows} == {f.pk for f in flagged}
    html = response.content.decode()
    for f in flagged:
        assert escape(session_transcript_url(f.session_id)) in html
    only_s2 = client.get(reverse("feedback:monitoring"), {"screening": "S2"}).context["rows"]
    assert [r["flags"] for r in only_s2] == [["S2"]]


def test_pages_are_japanese_by_default_from_the_feedback_catalog(client):
    session = ended_session()
    form = as_user(client, session.client).get(form_url(session)).content.decode()
    assert "評価を送信する" in form and "会話全体の印象" in form and "カウンセラーの無理解や軽率さから" in form
    result = as_user(client, session.counselor).get(result_url(session)).content.decode()
    assert "クライアント役からの評価を待っています" in result
