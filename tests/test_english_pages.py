"""English is all English: every page reachable by each role, in English, has no Japanese character.

The fixtures hold English user content only, so any Japanese text found is the interface's (a
missing translation, a stored Japanese message, a dataset label shown untranslated). Allowed: the
language menu's own name for Japanese (``lang="ja"``).
"""

from __future__ import annotations

import json
import re
from collections import deque
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import urldefrag, urlparse

import pytest
from django.utils import timezone

from feedback.items import SCREENING_FIELDS
from roleplay.models import NotificationKind, Role, SessionStatus
from roleplay.services.notifications import notification_create
from roleplay.topics import Topic
from tests.factories import FeedbackFactory, MessageFactory, SessionFactory, UserFactory

pytestmark = pytest.mark.django_db

JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff01-\uff60\u3000-\u303f]")
JAPANESE_RUN = re.compile(JAPANESE.pattern + "+")
SKIP_PREFIXES = ("/admin/", "/i18n/", "/static/", "/accounts/logout/", "/favicon.ico")
SKIP_PATTERNS = (re.compile(r"/export"), re.compile(r"\.(zip|jsonl|json|csv)$"))
MAX_PAGES = 120


class _Collector(HTMLParser):
    """Links to follow, and the document with ``lang="ja"`` elements blanked out."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.parts: list[str] = []
        self._skip_depth = 0
        self._stack: list[bool] = []
        self._json = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self._json = tag == "script" and a.get("type") == "application/json"
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        skip = a.get("lang", "").startswith("ja") or self._skip_depth > 0
        if tag not in ("input", "img", "br", "meta", "link", "hr", "source"):
            self._stack.append(skip)
            if skip:
                self._skip_depth += 1
        if not skip:
            self.parts.extend(v for k, v in attrs if v and k != "href")

    def handle_endtag(self, tag):
        if tag in ("input", "img", "br", "meta", "link", "hr", "source") or not self._stack:
            return
        if self._stack.pop():
            self._skip_depth -= 1

    def handle_data(self, data):
        if self._json:  # json_script escapes non-ASCII: read the strings the page's scripts will show
            self.parts.extend(_strings(json.loads(data)))
            self._json = False
        elif self._skip_depth == 0:
            self.parts.append(data)


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _world():
    counselor = UserFactory(username="counselor_en")
    client = UserFactory(username="client_en")
    staff = UserFactory(username="staff_en", is_staff=True, is_superuser=True)
    for user, name in ((counselor, "Counselor Ann"), (client, "Client Ben"), (staff, "Staff Cy")):
        user.profile.display_name = name
        user.profile.save()
    both = {"counselor": counselor, "client": client}
    live = SessionFactory(**both, topic=Topic.values[0], topic_sub="work stress", client_state="tired")
    rated = SessionFactory(
        **both,
        status=SessionStatus.ENDED,
        ended_at=timezone.now(),
        starts_at=timezone.now() - timedelta(hours=2),
        topic=Topic.values[1],
    )
    for session in (live, rated):
        MessageFactory(session=session, seq=1, role=Role.COUNSELOR, sender=counselor, text="Hello, how are you?")
        MessageFactory(session=session, seq=2, role=Role.CLIENT, sender=client, text="Tired, thank you.")
        session.last_seq = 2
        session.save()
    feedback = FeedbackFactory(session=rated, total=0)
    feedback.__class__.objects.filter(pk=feedback.pk).update(**{SCREENING_FIELDS[0]: True})
    from models_ml.scoring.base import ERR_NO_MODEL
    from models_ml.scoring.services import prediction_fail

    prediction_fail(session_id=rated.pk, reason=ERR_NO_MODEL)  # a stored error, shown translated
    upcoming = SessionFactory(
        **both, status=SessionStatus.SCHEDULED, starts_at=timezone.now() + timedelta(minutes=4), started_at=None
    )
    later = SessionFactory(
        **both, status=SessionStatus.SCHEDULED, starts_at=timezone.now() + timedelta(days=2), started_at=None
    )
    for kind in NotificationKind.values:
        for user in (counselor, client):
            notification_create(user=user, kind=kind, session=later, params={"partner": "Partner Dee"})
    from roleplay.models import AvailabilitySlot

    AvailabilitySlot.objects.create(
        user=client,
        role="client",
        starts_at=timezone.now() + timedelta(days=3),
        ends_at=timezone.now() + timedelta(days=3, hours=2),
    )
    return {"counselor": counselor, "client": client, "staff": staff, "upcoming": upcoming}


def _walk(client, start_urls: list[str]) -> tuple[dict[str, list[str]], int]:
    seen: set[str] = set()
    queue = deque(start_urls)
    problems: dict[str, list[str]] = {}
    pages = 0
    while queue and pages < MAX_PAGES:
        url = queue.popleft()
        if url in seen:
            continue
        seen.add(url)
        response = client.get(url)
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        pages += 1
        parser = _Collector()
        parser.feed(response.content.decode())
        text = "\n".join(parser.parts)
        hits = [text[max(0, m.start() - 30) : m.end() + 30].replace("\n", " ") for m in JAPANESE_RUN.finditer(text)]
        if hits:
            problems[url] = hits[:5]
        for href in parser.links:
            href = urldefrag(href)[0]
            parsed = urlparse(href)
            if parsed.scheme or parsed.netloc or not parsed.path.startswith("/"):
                continue
            if href.startswith(SKIP_PREFIXES) or any(p.search(parsed.path) for p in SKIP_PATTERNS):
                continue
            if href not in seen:
                queue.append(href)
    return problems, pages


@pytest.mark.parametrize("role", ["client", "counselor", "staff", "anonymous"])
def test_every_page_in_english_has_no_japanese(client, role):
    world = _world()
    if role != "anonymous":
        client.force_login(world[role])
    client.cookies.load({"django_language": "en"})
    starts = ["/", "/accounts/login/", "/accounts/signup/"]
    if role != "anonymous":
        starts += [f"/sessions/{world['upcoming'].pk}/", "/notifications/", "/accounts/profile/"]
    problems, pages = _walk(client, starts)
    assert pages >= (2 if role == "anonymous" else 8)
    assert problems == {}, "\n".join(f"{url}: {hits}" for url, hits in problems.items())
