"""Stored XSS: a script payload in every user-editable field is escaped on every page showing it.

The payload is stored directly (as if a form or the socket had let it through), then every page
that shows the field is rendered for a viewer allowed to see it. The raw payload must never be
in the HTML; the escaped form (HTML entities, or ``\\u003C`` inside ``json_script``) must be.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from roleplay.models import SessionStatus
from tests.factories import FeedbackFactory, MessageFactory, SessionFactory, UserFactory

pytestmark = pytest.mark.django_db

PAYLOAD = "<script>window.__xss=1</script><img src=x onerror=window.__xss=1>"  # 65 chars
SHORT = "<img src=x onerror=window.__xss=1>"  # for fields of at most 60 characters
TINY = "<b onclick=x>"  # for fields of at most 20 characters
RAW_MARKERS = ("<script>window.__xss", "<img src=x onerror", "<b onclick=x>")


def _escaped_forms(value: str) -> tuple[str, ...]:
    return (str(escape(value)), value.replace("<", "\\u003C").replace(">", "\\u003E"))


def _names(n: int) -> str:
    return f"{SHORT[:-1]} n{n}>"  # unique per user (display names are shown side by side)


@pytest.fixture
def world():
    counselor, client = UserFactory(), UserFactory()
    staff = UserFactory(is_staff=True)
    for i, user in enumerate((counselor, client)):
        user.profile.display_name = _names(i)
        user.profile.save()
    both = {"counselor": counselor, "client": client}
    extra = {"topic_sub": PAYLOAD, "client_state": PAYLOAD}
    live = SessionFactory(**both, **extra)
    rated = SessionFactory(**both, **extra, status=SessionStatus.ENDED, ended_at=timezone.now())
    future = SessionFactory(
        **both, **extra, status=SessionStatus.SCHEDULED, starts_at=timezone.now() + timedelta(days=1), started_at=None
    )
    for session in (live, rated):
        MessageFactory(session=session, seq=1, role="counselor", sender=counselor, text=PAYLOAD)
        MessageFactory(session=session, seq=2, role="client", sender=client, text=PAYLOAD)
        session.last_seq = 2
        session.save()
    from feedback.items import SCREENINGS

    FeedbackFactory(session=rated, **{SCREENINGS[0].field: True})  # flagged: listed on the monitoring page
    w = {"counselor": counselor, "client": client, "staff": staff, "live": live, "rated": rated, "future": future}
    _partners(w, staff)
    _prediction(w)
    return w


def _partners(w: dict, staff) -> None:
    try:
        from models_ml.finetuning.models import FineTuneJob, ModelVersion, RoleCard
    except ImportError:
        return
    w["card"] = RoleCard.objects.create(
        name=SHORT,
        gender=TINY,
        age=30,
        education=SHORT,
        occupation=SHORT,
        marital_status=TINY,
        family=PAYLOAD,
        resistance=PAYLOAD,
        chief_complaint=PAYLOAD,
        big_five={PAYLOAD: PAYLOAD},
    )
    w["job"] = FineTuneJob.objects.create(
        data_subset="all",
        base_model=PAYLOAD,
        created_by=staff,
        status="failed",
        error=PAYLOAD,
        phase=PAYLOAD[:40],
        log_tail=[PAYLOAD],
        hyperparameters={"note": PAYLOAD},
    )
    w["version"] = ModelVersion.objects.create(name=PAYLOAD, kind="client", backend="retrieval", config={"x": PAYLOAD})


def _prediction(w: dict) -> None:
    try:
        from models_ml.scoring.models import Prediction
    except ImportError:
        return
    Prediction.objects.create(session=w["rated"], status="failed", reason=PAYLOAD, model_version=SHORT[:80])


# (url name, args builder, viewer, value that must be shown escaped, or None: only "no raw payload")
PAGES = [
    ("roleplay:dashboard", None, "counselor", _names(1)),
    ("roleplay:history", None, "counselor", _names(1)),
    ("roleplay:history", None, "client", _names(0)),
    ("roleplay:session", lambda w: [w["live"].pk], "counselor", PAYLOAD),
    ("roleplay:session", lambda w: [w["live"].pk], "client", PAYLOAD),
    ("roleplay:session", lambda w: [w["live"].pk], "staff", PAYLOAD),
    ("roleplay:session", lambda w: [w["rated"].pk], "client", PAYLOAD),
    ("roleplay:session_setup", lambda w: [w["future"].pk], "counselor", PAYLOAD),
    ("roleplay:session_setup", lambda w: [w["future"].pk], "client", PAYLOAD),
    ("roleplay:session_reschedule", lambda w: [w["future"].pk], "counselor", _names(1)),
    ("profile", None, "counselor", _names(0)),
    ("feedback:form", lambda w: [w["rated"].pk], "client", None),
    ("feedback:result", lambda w: [w["rated"].pk], "counselor", None),
    ("feedback:result", lambda w: [w["rated"].pk], "staff", None),
    ("feedback:result_fragment", lambda w: [w["rated"].pk], "counselor", None),
    ("feedback:progress", None, "counselor", None),
    ("feedback:list", None, "staff", _names(0)),
    ("feedback:monitoring", None, "staff", _names(0)),
    ("dataset:sessions", None, "staff", None),
    ("dataset:session_detail", lambda w: [w["rated"].pk], "staff", PAYLOAD),
    ("dataset:analytics", None, "staff", None),
    ("models_ml:predictions", None, "staff", None),
    ("models_ml:prediction_panel", lambda w: [w["rated"].pk], "counselor", None),
    ("coaching:timeline", lambda w: [w["rated"].pk], "counselor", PAYLOAD),
    ("coaching:timeline_body", lambda w: [w["rated"].pk], "staff", PAYLOAD),
    ("coaching:live_panel", lambda w: [w["live"].pk], "counselor", None),
    ("arena:leaderboard", None, "staff", None),
    ("partners:jobs", None, "staff", PAYLOAD),
    ("partners:job_detail", lambda w: [w["job"].pk], "staff", PAYLOAD),
    ("partners:job_progress", lambda w: [w["job"].pk], "staff", None),
    ("partners:role_cards", None, "staff", SHORT),
    ("partners:role_card_edit", lambda w: [w["card"].pk], "staff", PAYLOAD),
    ("partners:models", None, "staff", PAYLOAD),
]


@pytest.mark.parametrize(("name", "args", "viewer", "shown"), PAGES, ids=[f"{n}-{v}" for n, _a, v, _s in PAGES])
def test_stored_payload_is_escaped(client, world, name, args, viewer, shown):
    if name.startswith("partners:") and "job" not in world:
        pytest.skip("models_ml.finetuning is not installed")
    client.force_login(world[viewer])
    response = client.get(reverse(name, args=args(world) if args else None))
    assert response.status_code == 200
    assert "html" in response["Content-Type"]
    html = response.content.decode()
    for marker in RAW_MARKERS:
        assert marker not in html, f"raw {marker!r} in {name}"
    if shown is not None:
        assert any(form in html for form in _escaped_forms(shown)), f"{name} does not show the escaped value"


def test_dataset_session_detail_shows_topic_and_state_escaped(client, world):
    client.force_login(world["staff"])
    html = client.get(reverse("dataset:session_detail", args=[world["rated"].pk])).content.decode()
    # topic_sub, client_state and both messages: four escaped copies at least, no raw one
    assert html.count(str(escape(PAYLOAD))) >= 3
    assert "<script>window.__xss" not in html


def test_feedback_monitoring_filter_echo_is_escaped(client, world):
    """A search term comes back in the filter form: reflected, not only stored, input."""
    client.force_login(world["staff"])
    for name in ("feedback:list", "feedback:monitoring", "dataset:sessions", "models_ml:predictions"):
        response = client.get(reverse(name), {"q": PAYLOAD, "counselor": PAYLOAD})
        assert response.status_code in (200, 400)
        html = response.content.decode()
        assert "<script>window.__xss" not in html and "<img src=x onerror" not in html, name


def test_chat_socket_frames_carry_text_verbatim_for_textcontent_rendering():
    """The socket sends text as JSON data (never HTML): the page must render it with textContent."""
    from pathlib import Path

    js = (Path(__file__).resolve().parent.parent / "static" / "js" / "chat.js").read_text()
    assert "innerHTML" not in js and "insertAdjacentHTML" not in js and "outerHTML" not in js


# NUL (PostgreSQL cannot compare text with it), invalid UTF-8, a negative page, SQL-ish quotes,
# impossible dates, markup: as a browser or a script would send them (percent-encoded).
HOSTILE_QUERY = (
    "q=a%00b&page=-1&status=%00&source=%3Cx%3E&screening=%ED%A0%80&counselor=1%27%20OR%20%271%27%3D%271"
    "&since=9999-99-99&has_feedback=%5B%5D&subset=%00&fmt=%FF"
)


HOSTILE_PAGES = [
    "feedback:list",
    "feedback:monitoring",
    "dataset:sessions",
    "dataset:analytics",
    "models_ml:predictions",
    "roleplay:history",
    "roleplay:dashboard",
    "feedback:progress",
    "partners:jobs",
    "arena:leaderboard",
]


@pytest.mark.parametrize("name", HOSTILE_PAGES)
def test_hostile_query_strings_never_cause_a_server_error(client, world, name):
    client.force_login(world["staff"])
    response = client.get(f"{reverse(name)}?{HOSTILE_QUERY}")
    assert response.status_code in (200, 400), response.status_code
