"""kokoro_site.panels: lower apps' pages show higher apps' panels through registered slots."""

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse

from kokoro_site import panels
from tests.factories import UserFactory


@pytest.fixture
def registry(monkeypatch):
    """The apps' registrations, restorable: a test may add or remove panels freely."""
    copy = {slot: dict(found) for slot, found in panels._PANELS.items()}
    monkeypatch.setattr(panels, "_PANELS", copy)
    return copy


def render(source: str, **context) -> str:
    return Template("{% load panels %}" + source).render(Context(context))


def test_the_apps_fill_their_slots_when_they_are_ready():
    names = {slot: [p.name for p in panels.panels_for(slot=slot)] for slot in panels.SLOTS}
    assert names == {
        "roleplay.dashboard": ["practice.card"],
        "roleplay.session_scripts": ["practice.chat"],
        "roleplay.session_client_header": ["practice.end_form"],
        "roleplay.session_counselor_side": ["coaching.live"],
        "roleplay.history_actions": ["coaching.review_link"],
        "feedback.result": ["scoring.prediction", "coaching.review_link"],
        "feedback.progress": ["coaching.skills"],
        "feedback.form_intro": ["practice.feedback_optional"],
        "practice.review": ["scoring.prediction", "coaching.timeline"],
    }


def test_panels_render_in_order_with_the_tag_arguments_and_their_own_context(registry, tmp_path, settings):
    (tmp_path / "a.html").write_text("[A {{ session }} {{ extra }} {{ page_value }}]")
    (tmp_path / "b.html").write_text("[B {{ session }}]")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}]
    registry["feedback.progress"].clear()
    panels.panel_register(slot="feedback.progress", name="t.b", template="b.html", order=20)
    panels.panel_register(
        slot="feedback.progress", name="t.a", template="a.html", order=10, context=lambda ctx, **kw: {"extra": "x"}
    )
    html = render('{% panels "feedback.progress" session="s1" %}|{{ extra }}', page_value="p")
    assert html == "[A s1 x p][B s1]|"  # the panel's values do not leak into the page


def test_a_panel_whose_context_says_none_is_not_shown(registry, tmp_path, settings):
    (tmp_path / "a.html").write_text("shown")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}]
    registry["feedback.progress"].clear()
    panels.panel_register(slot="feedback.progress", name="t.a", template="a.html", context=lambda ctx, **kw: None)
    assert render('{% panels "feedback.progress" %}') == ""


def test_an_unknown_slot_is_an_error_in_a_page_and_in_a_registration():
    with pytest.raises(ValueError, match="unknown panel slot 'roleplay.dashbord'"):
        render('{% panels "roleplay.dashbord" %}')
    with pytest.raises(ValueError, match="unknown panel slot"):
        panels.panel_register(slot="nowhere", name="x", template="x.html")


@pytest.mark.django_db
def test_a_lower_page_works_without_the_higher_app_that_fills_its_slot(client, registry):
    user = UserFactory()
    client.force_login(user)
    assert 'id="practice-card"' in client.get(reverse("roleplay:dashboard")).content.decode()
    panels.panel_unregister(slot="roleplay.dashboard", name="practice.card")
    response = client.get(reverse("roleplay:dashboard"))
    assert response.status_code == 200 and 'id="practice-card"' not in response.content.decode()


@pytest.mark.django_db
def test_the_csrf_token_and_request_of_the_page_reach_the_panel():
    request = RequestFactory().get("/")
    request.user = UserFactory(is_staff=True)
    from django.template.loader import get_template

    html = get_template("roleplay/dashboard.html").render(
        {"request": request, "csrf_token": "tok123", "user": request.user, "open_slots": [], "recent": []}
    )
    assert 'id="practice-card"' in html and 'value="tok123"' in html


@pytest.mark.django_db
def test_coaching_review_links_show_for_the_counselor_and_staff_only(client):
    from roleplay.models import SessionStatus
    from tests.factories import FeedbackFactory, SessionFactory

    session = FeedbackFactory(session=SessionFactory(status=SessionStatus.ENDED)).session
    timeline = reverse("coaching:timeline", args=[session.pk])
    result = reverse("feedback:result", args=[session.pk])
    pages = {
        session.counselor: (True, True),
        session.client: (False, None),  # the client may not open the result page
        UserFactory(is_staff=True): (None, True),
    }
    for user, (in_history, in_result) in pages.items():
        client.force_login(user)
        if in_history is not None:
            html = client.get(reverse("roleplay:history")).content.decode()
            assert (f'href="{timeline}" class="coach-review-link"' in html) is in_history, user
        if in_result is not None:
            html = client.get(result).content.decode()
            assert ('id="coach-review-link"' in html and timeline in html) is in_result, user
