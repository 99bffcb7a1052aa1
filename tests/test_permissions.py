"""Permission matrix: every page x (anonymous, stranger, client, counselor, staff), cell by cell.

Each cell is its own test id (``test_page_permission[<url name>-<method>-<who>]``). Expected:
``200`` (or another success status), ``LOGIN`` (302 to a log-in page), ``403``, ``404``, ``405``.
"Client"/"counselor" are the two participants of the session the URL points at; "stranger" is
a signed-in user with no part in it; "staff" is an administrator who is not a participant.
The last test fails when a URL exists that the table does not cover (new pages must be added).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from feedback.items import ITEMS
from feedback.models import ExportAudit
from roleplay.models import AvailabilitySlot, SessionStatus
from tests.chat_sockets import handshake
from tests.factories import FeedbackFactory, SessionFactory, UserFactory
from tests.feedback.helpers import ended_session

pytestmark = pytest.mark.django_db

WHO = ("anonymous", "stranger", "client", "counselor", "staff")
LOGIN = "LOGIN"


@dataclass
class World:
    counselor: object
    client: object
    stranger: object
    staff: object
    live: object  # a live session
    ended: object  # ended, no feedback yet
    rated: object  # ended, with feedback
    future: object  # scheduled, tomorrow
    slot: object  # the counselor's open slot
    job: object | None = None
    card: object | None = None
    version: object | None = None
    practice: object | None = None


@pytest.fixture
def world() -> World:
    counselor, client, stranger = UserFactory(), UserFactory(), UserFactory()
    staff = UserFactory(is_staff=True)
    both = {"counselor": counselor, "client": client}
    w = World(
        counselor=counselor,
        client=client,
        stranger=stranger,
        staff=staff,
        live=SessionFactory(**both),
        ended=ended_session(**both),
        rated=FeedbackFactory(session=ended_session(**both)).session,
        future=SessionFactory(
            **both,
            status=SessionStatus.SCHEDULED,
            starts_at=timezone.now() + timedelta(days=1),
            started_at=None,
        ),
        slot=AvailabilitySlot.objects.create(
            user=counselor,
            role="counselor",
            starts_at=timezone.now() + timedelta(days=2),
            ends_at=timezone.now() + timedelta(days=2, hours=2),
        ),
    )
    try:
        from models_ml.finetuning.models import FineTuneJob, ModelVersion, RoleCard
    except ImportError:  # the partners app is not installed in this tree
        return w
    w.card = RoleCard.objects.create(
        name="権限テスト",
        gender="女性",
        age=30,
        education="大学",
        occupation="会社員",
        marital_status="未婚",
        family="両親",
        resistance="低い",
        chief_complaint="眠れない",
    )
    w.job = FineTuneJob.objects.create(data_subset="all", base_model="tiny", created_by=staff)
    w.version = ModelVersion.objects.create(name="v1", kind="client", backend="retrieval")
    try:
        from models_ml.practice.models import PracticeSession
    except ImportError:
        return w
    w.practice = PracticeSession.objects.create(session=w.live, ai_role="counselor")  # the client is human
    PracticeSession.objects.create(session=w.ended, ai_role="client")  # reviewed by its (human) counselor
    return w


def _feedback_post() -> dict:
    return {item.field: "3" for item in ITEMS}


# (url name, args builder, method, data builder, expected per WHO)
GET, POST = "get", "post"
U = ("anonymous is sent to log in", "every signed-in user")
ALL_SIGNED_IN = (LOGIN, 200, 200, 200, 200)
PARTICIPANTS = (LOGIN, 404, 200, 200, 404)
STAFF_ONLY = (LOGIN, 403, 403, 403, 200)
STAFF_404 = (LOGIN, 403, 403, 403, 404)  # staff-only page, unknown object

MATRIX = [
    # accounts
    ("login", None, GET, None, (200, 302, 302, 302, 302)),
    ("signup", None, GET, None, (200, 302, 302, 302, 302)),
    ("profile", None, GET, None, ALL_SIGNED_IN),
    # scheduling: everyone has their own dashboard; session pages only for its participants
    ("roleplay:dashboard", None, GET, None, ALL_SIGNED_IN),
    ("roleplay:dashboard_upcoming", None, GET, None, ALL_SIGNED_IN),
    ("roleplay:schedule", None, GET, None, ALL_SIGNED_IN),
    ("roleplay:history", None, GET, None, ALL_SIGNED_IN),
    ("roleplay:slot_cancel", lambda w: [w.slot.pk], POST, None, (LOGIN, 404, 404, 302, 404)),
    ("roleplay:session_cancel", lambda w: [w.future.pk], POST, None, (LOGIN, 404, 302, 302, 404)),
    ("roleplay:session_reschedule", lambda w: [w.future.pk], GET, None, PARTICIPANTS),
    ("roleplay:session_setup", lambda w: [w.future.pk], GET, None, PARTICIPANTS),
    (
        "roleplay:session_setup",
        lambda w: [w.future.pk],
        POST,
        lambda w: {"topic_sub": "x"},
        (LOGIN, 404, 403, 200, 404),
    ),
    # chat: participants and (read-only) staff; only the counselor ends
    ("roleplay:session", lambda w: [w.live.pk], GET, None, (LOGIN, 404, 200, 200, 200)),
    ("roleplay:session_end", lambda w: [w.live.pk], POST, None, (LOGIN, 404, 403, 302, 403)),
    # waiting room: only the session's counselor may start early (too early here: refused with a message)
    ("roleplay:session_start_now", lambda w: [w.future.pk], POST, None, (LOGIN, 404, 403, 302, 403)),
    # notifications: each signed-in user has their own list
    ("roleplay:notifications", None, GET, None, ALL_SIGNED_IN),
    ("roleplay:notification_badge", None, GET, None, ALL_SIGNED_IN),
    ("roleplay:notifications_read", None, POST, None, (LOGIN, 302, 302, 302, 302)),
    # the site's icon is public
    ("favicon", None, GET, None, (200, 200, 200, 200, 200)),
    # feedback: only the client gives it; the counselor and staff read the result
    # (404 for a stranger, as for an unknown session: ids cannot be enumerated)
    ("feedback:form", lambda w: [w.ended.pk], GET, None, (LOGIN, 404, 200, 403, 403)),
    ("feedback:form", lambda w: [w.ended.pk], POST, lambda w: _feedback_post(), (LOGIN, 404, 302, 403, 403)),
    ("feedback:result", lambda w: [w.rated.pk], GET, None, (LOGIN, 404, 403, 200, 200)),
    ("feedback:result_fragment", lambda w: [w.rated.pk], GET, None, (LOGIN, 404, 403, 200, 200)),
    ("feedback:progress", None, GET, None, ALL_SIGNED_IN),
    ("feedback:list", None, GET, None, STAFF_ONLY),
    ("feedback:monitoring", None, GET, None, STAFF_ONLY),
    (
        "feedback:monitoring_review",
        lambda w: [w.rated.feedback.pk],
        POST,
        lambda w: {"note": "followed up"},
        (LOGIN, 403, 403, 403, 302),
    ),
    # dataset administration: staff only, even for a participant's own session
    ("dataset:sessions", None, GET, None, STAFF_ONLY),
    ("dataset:session_detail", lambda w: [w.rated.pk], GET, None, STAFF_ONLY),
    ("dataset:analytics", None, GET, None, STAFF_ONLY),
    ("dataset:export", None, POST, lambda w: {"subset": "all", "fmt": "jsonl"}, STAFF_ONLY),
    # auto-scorer: predictions list for staff; a session's prediction for its counselor and staff
    ("models_ml:predictions", None, GET, None, STAFF_ONLY),
    ("models_ml:prediction_panel", lambda w: [w.rated.pk], GET, None, (LOGIN, 404, 403, 200, 200)),
    # partners (fine-tuning jobs, role cards, model versions): staff only
    ("partners:jobs", None, GET, None, STAFF_ONLY),
    ("partners:job_create", None, GET, None, STAFF_ONLY),
    ("partners:job_detail", lambda w: [w.job.pk], GET, None, STAFF_ONLY),
    ("partners:job_progress", lambda w: [w.job.pk], GET, None, STAFF_ONLY),
    ("partners:job_cancel", lambda w: [w.job.pk], POST, None, (LOGIN, 403, 403, 403, 302)),
    ("partners:job_retry", lambda w: [w.job.pk], POST, None, (LOGIN, 403, 403, 403, 302)),
    ("partners:role_cards", None, GET, None, STAFF_ONLY),
    ("partners:role_card_create", None, GET, None, STAFF_ONLY),
    ("partners:role_card_edit", lambda w: [w.card.pk], GET, None, STAFF_ONLY),
    ("partners:role_card_toggle", lambda w: [w.card.pk], POST, None, (LOGIN, 403, 403, 403, 302)),
    ("partners:role_cards_load_examples", None, POST, None, (LOGIN, 403, 403, 403, 302)),
    ("partners:models", None, GET, None, STAFF_ONLY),
    ("partners:model_toggle", lambda w: [w.version.pk], POST, None, (LOGIN, 403, 403, 403, 302)),
    ("partners:model_build_retrieval", None, POST, None, (LOGIN, 403, 403, 403, 302)),
    # AI practice: anyone signed in starts one for themselves; only its human participant retries
    ("practice:start", None, POST, lambda w: {"ai_role": "client"}, (LOGIN, 302, 302, 302, 302)),
    ("practice:retry", lambda w: [w.live.pk], POST, None, (LOGIN, 404, 200, 404, 404)),
    ("practice:end", lambda w: [w.live.pk], POST, None, (LOGIN, 404, 302, 404, 404)),
    # the review after an AI client: its counselor and staff (404 for others, the client included)
    ("practice:review", lambda w: [w.ended.pk], GET, None, (LOGIN, 404, 404, 200, 200)),
    # coaching: an ended session's review timeline for its counselor and staff (404 for others,
    # the client included); the live panel for the session's counselor only
    ("coaching:timeline", lambda w: [w.ended.pk], GET, None, (LOGIN, 404, 404, 200, 200)),
    ("coaching:timeline_body", lambda w: [w.ended.pk], GET, None, (LOGIN, 404, 404, 200, 200)),
    ("coaching:suggestions_restart", lambda w: [w.ended.pk], POST, None, (LOGIN, 404, 404, 302, 302)),
    ("coaching:live_panel", lambda w: [w.live.pk], GET, None, (LOGIN, 404, 404, 200, 404)),
    ("coaching:live_toggle", lambda w: [w.live.pk], POST, lambda w: {"enabled": "1"}, (LOGIN, 404, 404, 200, 404)),
    # arena (simulations, battles, judges, leaderboard): staff only; object pages are checked
    # with unknown ids: refused (403) before the lookup for non-staff, 404 for staff
    ("arena:index", None, GET, None, (LOGIN, 403, 403, 403, 302)),  # redirects to the leaderboard
    ("arena:simulations", None, GET, None, STAFF_ONLY),
    ("arena:simulation_detail", lambda w: [999999], GET, None, STAFF_404),
    ("arena:simulation_progress", lambda w: [999999], GET, None, STAFF_404),
    ("arena:arena_start", None, GET, None, STAFF_ONLY),
    ("arena:arena_dialogue", lambda w: [999999], GET, None, STAFF_404),
    ("arena:arena_judge", lambda w: [999999], POST, None, STAFF_404),
    ("arena:judge_jobs", None, GET, None, STAFF_ONLY),
    ("arena:leaderboard", None, GET, None, STAFF_ONLY),
    ("arena:evaluations", None, GET, None, STAFF_ONLY),
    ("arena:labels", None, GET, None, STAFF_ONLY),
    ("arena:job_detail", lambda w: ["judge", 999999], GET, None, STAFF_404),
    ("arena:job_progress", lambda w: ["eval", 999999], GET, None, STAFF_404),
    ("arena:arena_board", lambda w: [999999], GET, None, STAFF_404),
    # auto-scorer versions, training, activation (issue 16): staff only
    ("models_ml:scorers", None, GET, None, STAFF_ONLY),
    ("models_ml:scorer_train", None, POST, None, (LOGIN, 403, 403, 403, 302)),
    ("models_ml:scorer_activate", lambda w: [999999], POST, None, STAFF_404),
    # the card and the cancel button of any job: staff only
    ("jobs:card", lambda w: ["setup_run", 999999], GET, None, STAFF_404),
    ("jobs:cancel", lambda w: ["setup_run", 999999], POST, None, STAFF_404),
    # first-run set-up and dataset imports from the site: staff only
    ("bootstrap:setup", None, GET, None, STAFF_ONLY),
    ("bootstrap:status", None, GET, None, STAFF_ONLY),
    ("bootstrap:start", None, POST, None, (LOGIN, 403, 403, 403, 302)),
    ("bootstrap:cancel", lambda w: [999999], POST, None, STAFF_404),
    ("bootstrap:import", None, POST, None, (LOGIN, 403, 403, 403, 400)),  # staff: no folder given
]

# Reachable only through a method the view refuses before anything else.
WRONG_METHOD = [
    ("dataset:export", None, GET),
    ("roleplay:session_end", lambda w: [w.live.pk], GET),
    ("roleplay:slot_cancel", lambda w: [w.slot.pk], GET),
]

CELLS = [
    pytest.param(name, args, method, data, who, expected[i], id=f"{name}-{method}-{who}")
    for name, args, method, data, expected in MATRIX
    for i, who in enumerate(WHO)
]


def _user(world: World, who: str):
    return None if who == "anonymous" else getattr(world, who)


def _assert_status(response, expected) -> None:
    if expected == LOGIN:
        assert response.status_code == 302, response.status_code
        location = response["Location"]
        assert "login" in location and ("next=" in location), location
        return
    assert response.status_code == expected, (response.status_code, expected)
    if expected == 302:  # allowed and done: never a log-in page
        assert "login" not in response["Location"]


@pytest.mark.parametrize(("name", "args", "method", "data", "who", "expected"), CELLS)
def test_page_permission(client, world, settings, name, args, method, data, who, expected):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    if name.startswith("partners:") and world.job is None:
        pytest.skip("models_ml.finetuning is not installed")
    app = name.split(":")[0]
    if app in ("arena", "coaching") and f"models_ml.{app}" not in settings.INSTALLED_APPS:
        pytest.skip(f"models_ml.{app} is not installed")
    if name.startswith("practice:") and world.practice is None:
        pytest.skip("models_ml.practice is not installed")
    user = _user(world, who)
    if user is not None:
        client.force_login(user)
    url = reverse(name, args=args(world) if args else None)
    response = getattr(client, method)(url, data(world) if data else {})
    _assert_status(response, expected)


@pytest.mark.parametrize(("name", "args", "method"), WRONG_METHOD, ids=[f"{n}-{m}" for n, _a, m in WRONG_METHOD])
@pytest.mark.parametrize("who", WHO)
def test_wrong_method_is_refused_for_everyone(client, world, name, args, method, who):
    user = _user(world, who)
    if user is not None:
        client.force_login(user)
    response = getattr(client, method)(reverse(name, args=args(world) if args else None))
    assert response.status_code in (302, 405)
    if response.status_code == 302:  # login_required ran first for the anonymous user
        assert who == "anonymous" and "login" in response["Location"]


def test_unknown_session_is_404_for_participants_pages(client, world):
    client.force_login(world.counselor)
    for name in ("roleplay:session", "roleplay:session_setup", "roleplay:session_reschedule"):
        assert client.get(reverse(name, args=[999999])).status_code == 404


SESSION_SCOPED = [
    "roleplay:session",
    "roleplay:session_setup",
    "roleplay:session_reschedule",
    "feedback:form",
    "feedback:result",
    "feedback:result_fragment",
    "models_ml:prediction_panel",
    "coaching:timeline",
    "coaching:timeline_body",
    "coaching:live_panel",
]


@pytest.mark.parametrize("name", SESSION_SCOPED)
def test_a_stranger_gets_the_same_404_for_an_existing_and_an_unknown_session(client, world, settings, name):
    app = name.split(":")[0]
    if app == "coaching" and "models_ml.coaching" not in settings.INSTALLED_APPS:
        pytest.skip("models_ml.coaching is not installed")
    client.force_login(world.stranger)
    existing = client.get(reverse(name, args=[world.rated.pk]))
    unknown = client.get(reverse(name, args=[999999]))
    assert existing.status_code == unknown.status_code == 404


def test_every_response_to_a_signed_in_user_is_never_cached(client, world, settings):
    """Walks the permission matrix: transcripts, feedback, predictions, coaching and exports
    (and every other dynamic page) carry Cache-Control: no-store, private."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    client.force_login(world.staff)
    checked = 0
    for name, args, method, _data, _expected in MATRIX:
        if (name.startswith(("partners:", "practice:")) and world.job is None) or method != GET:
            continue
        try:
            url = reverse(name, args=args(world) if args else None)
        except Exception:  # an app of this row is not installed in this tree
            continue
        response = client.get(url)
        cache_control = response.get("Cache-Control", "")
        assert "no-store" in cache_control and "private" in cache_control, (name, response.status_code, cache_control)
        checked += 1
    response = client.post(reverse("dataset:export"), {"subset": "all", "fmt": "jsonl"})
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    client.force_login(world.counselor)
    for session in (world.live, world.rated):  # the participant's own transcript and result
        for name in ("roleplay:session", "feedback:result", "models_ml:prediction_panel"):
            response = client.get(reverse(name, args=[session.pk]))
            assert "no-store" in response.get("Cache-Control", ""), name
    assert checked > 30


# --- participants see only their own data -------------------------------------------------
def test_transcript_text_is_not_in_a_strangers_pages(client, world):
    from tests.factories import MessageFactory

    MessageFactory(session=world.rated, seq=3, text="ひみつの相談内容")
    client.force_login(world.stranger)
    for name in ("roleplay:dashboard", "roleplay:history", "feedback:progress"):
        assert "ひみつの相談内容" not in client.get(reverse(name)).content.decode()
    assert client.get(reverse("roleplay:session", args=[world.rated.pk])).status_code == 404


def test_history_lists_only_own_sessions(client, world):
    other = SessionFactory(status=SessionStatus.ENDED, ended_at=timezone.now())
    client.force_login(world.client)
    page = client.get(reverse("roleplay:history")).content.decode()
    assert world.counselor.profile.display_name in page  # the partner of one's own session
    assert other.counselor.profile.display_name not in page
    assert other.client.profile.display_name not in page


def test_progress_shows_only_own_feedback(client, world):
    other = FeedbackFactory(total=77)
    client.force_login(world.counselor)
    response = client.get(reverse("feedback:progress"))
    assert response.status_code == 200
    assert other.session.pk not in [p.get("session_id") for p in _progress_points(response)]


def _progress_points(response) -> list[dict]:
    progress = response.context.get("progress")
    points = getattr(progress, "points", None) or (progress.get("points") if isinstance(progress, dict) else None)
    return [p if isinstance(p, dict) else vars(p) for p in (points or [])]


# --- every URL is in the table ---------------------------------------------------------------
SKIP_NAMESPACES = {"admin"}
SKIP_NAMES = {
    # django.contrib.auth.urls (Django's own views) and i18n
    "logout",
    "password_change",
    "password_change_done",
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
    "set_language",
}


def _all_url_names(resolver=None, ns: str = "") -> set[str]:
    names = set()
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            sub_ns = entry.namespace or ""
            if sub_ns in SKIP_NAMESPACES:
                continue
            prefix = f"{ns}{sub_ns}:" if sub_ns else ns
            names |= _all_url_names(entry, prefix)
        elif isinstance(entry, URLPattern) and entry.name:
            names.add(f"{ns}{entry.name}")
    return names


def test_every_named_url_is_in_the_permission_matrix():
    covered = {row[0] for row in MATRIX}
    missing = sorted(n for n in _all_url_names() - covered if n.split(":")[-1] not in SKIP_NAMES)
    assert not missing, f"add these URLs to MATRIX in tests/test_permissions.py: {missing}"


# --- exports are audit-logged ----------------------------------------------------------------
def test_web_export_writes_an_audit_row(client, world):
    client.force_login(world.staff)
    response = client.post(reverse("dataset:export"), {"subset": "all", "fmt": "jsonl"})
    b"".join(response.streaming_content)
    audit = ExportAudit.objects.get()
    assert (audit.user, audit.channel, audit.fmt, audit.dialogue_count) == (world.staff, "web", "jsonl", 1)


def test_refused_export_writes_no_audit_row(client, world):
    client.force_login(world.counselor)
    assert client.post(reverse("dataset:export"), {"subset": "all", "fmt": "jsonl"}).status_code == 403
    assert not ExportAudit.objects.exists()


@pytest.mark.parametrize("fmt", ["folder", "jsonl", "zip", "chat-jsonl"])
def test_export_command_writes_an_audit_row(world, tmp_path, fmt):
    from django.core.management import call_command

    out = tmp_path / ("out" if fmt == "folder" else f"out.{fmt}")
    call_command("export_kokorochat", str(out), "--format", fmt, stdout=open("/dev/null", "w"))
    audit = ExportAudit.objects.get()
    assert (audit.channel, audit.fmt, audit.dialogue_count, audit.user) == ("command", fmt, 1, None)


# --- log-in rate limit (django-axes) --------------------------------------------------------
def test_sixth_login_attempt_is_refused_even_with_the_right_password(client, world):
    from roleplay.views.accounts import LOCKOUT_STATUS, LOCKOUT_TEMPLATE

    url = reverse("login")
    username = world.client.username
    for attempt in range(1, settings.AXES_FAILURE_LIMIT + 1):
        response = client.post(url, {"username": username, "password": "wrong-password"})
        # the form again with an error; the 5th failure already answers with the lockout page
        assert response.status_code == (200 if attempt < settings.AXES_FAILURE_LIMIT else LOCKOUT_STATUS)
        assert "_auth_user_id" not in client.session
    response = client.post(url, {"username": username, "password": "pass-12345"})
    assert response.status_code == LOCKOUT_STATUS
    assert LOCKOUT_TEMPLATE in [t.name for t in response.templates]
    assert "_auth_user_id" not in client.session
    # Another user from the same address can still log in (lockout is per username + IP).
    response = client.post(url, {"username": world.counselor.username, "password": "pass-12345"})
    assert response.status_code == 302 and client.session["_auth_user_id"] == str(world.counselor.pk)


def test_fifth_attempt_with_the_right_password_still_logs_in(client, world):
    url = reverse("login")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        client.post(url, {"username": world.client.username, "password": "wrong-password"})
    response = client.post(url, {"username": world.client.username, "password": "pass-12345"})
    assert response.status_code == 302 and client.session["_auth_user_id"] == str(world.client.pk)


# --- WebSocket -----------------------------------------------------------------------------
def _ws_headers(user, origin: bytes = b"http://localhost") -> list[tuple[bytes, bytes]]:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    headers = [(b"origin", origin), (b"host", b"localhost")]
    if user is not None:
        store = SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={store.session_key}".encode()))
    return headers


WS_EXPECTED = {
    "anonymous": (False, 4401),
    "stranger": (False, 4403),
    "client": (True, "client"),
    "counselor": (True, "counselor"),
    "staff": (True, "observer"),
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("who", WHO)
async def test_websocket_permission(who):
    from kokoro_site.asgi import application

    w = await sync_to_async(_ws_world)()
    user = None if who == "anonymous" else w[who]
    headers = await sync_to_async(_ws_headers)(user)
    communicator = WebsocketCommunicator(application, f"/ws/sessions/{w['session'].pk}/", headers=headers)
    connected, detail = await handshake(communicator, timeout=5)
    accepted, what = WS_EXPECTED[who]
    assert connected is accepted
    if accepted:
        hello = await communicator.receive_json_from(timeout=5)
        assert hello["type"] == "hello" and hello["role"] == what
        await communicator.disconnect()
    else:
        assert detail == what


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "origin",
    [
        b"http://evil.example",
        b"null",
        b"http://localhost.evil.example",
        b"http://localhost:1234",
        b"https://localhost",
        b"ws://localhost",
    ],
)
async def test_websocket_from_a_foreign_origin_is_refused_even_for_a_participant(origin):
    from kokoro_site.asgi import application

    w = await sync_to_async(_ws_world)()
    headers = await sync_to_async(_ws_headers)(w["client"], origin)
    communicator = WebsocketCommunicator(application, f"/ws/sessions/{w['session'].pk}/", headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    assert connected is False


JOB_WS_EXPECTED = {"anonymous": 4401, "stranger": 4403, "client": 4403, "counselor": 4403, "staff": None}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("who", WHO)
async def test_job_progress_socket_is_staff_only(who):
    """``ws/jobs/`` (live job progress, docs/protocol.md): staff only, refusals as close codes."""
    from kokoro_site.asgi import application

    w = await sync_to_async(_ws_world)()
    headers = await sync_to_async(_ws_headers)(None if who == "anonymous" else w[who])
    communicator = WebsocketCommunicator(application, "/ws/jobs/", headers=headers)
    connected, code = await handshake(communicator, timeout=5)
    assert (connected, code) == (JOB_WS_EXPECTED[who] is None, JOB_WS_EXPECTED[who])
    if connected:
        assert (await communicator.receive_json_from(timeout=5))["type"] == "hello"
        await communicator.disconnect()
    staff_headers = await sync_to_async(_ws_headers)(w["staff"], b"http://evil.example")
    foreign = WebsocketCommunicator(application, "/ws/jobs/", headers=staff_headers)
    assert (await foreign.connect(timeout=5))[0] is False  # another origin: refused even for staff


def _ws_world() -> dict:
    session = SessionFactory()
    return {
        "session": session,
        "client": session.client,
        "counselor": session.counselor,
        "stranger": UserFactory(),
        "staff": UserFactory(is_staff=True),
    }


@pytest.mark.parametrize(
    "name", ["feedback:list", "dataset:sessions", "models_ml:predictions", "partners:jobs", "arena:leaderboard"]
)
def test_every_staff_page_refuses_others_with_the_one_readable_page(client, name):
    from django.utils.html import escape

    from kokoro_site.permissions import ERR_STAFF_ONLY

    client.force_login(UserFactory())
    response = client.get(reverse(name))
    assert response.status_code == 403
    html = response.content.decode()
    assert escape(str(ERR_STAFF_ONLY)) in html and reverse("roleplay:dashboard") in html
    assert [t.name for t in response.templates][0] == "error.html"
