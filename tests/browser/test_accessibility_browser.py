"""Accessibility in a real browser: axe-core (vendored in tests/browser/vendor) on the main pages, in
Japanese and English, desktop and a 390x844 phone, with zero serious or critical violations (contrast
included); and the client's chat fits the phone screen without scrolling the page."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from feedback.items import SCREENING_FIELDS
from roleplay.models import Role, SessionStatus
from tests.browser.conftest import login
from tests.factories import FeedbackFactory, MessageFactory, SessionFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

AXE = (Path(__file__).parent / "vendor" / "axe-4.14.1.min.js").read_text(encoding="utf-8")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
BLOCKING = ("serious", "critical")


def _conversation(session, n: int) -> None:
    for seq in range(1, n + 1):
        role = Role.COUNSELOR if seq % 2 else Role.CLIENT
        sender = session.counselor if role == Role.COUNSELOR else session.client
        MessageFactory(session=session, seq=seq, role=role, sender=sender, text=f"Message number {seq}.")
    session.last_seq = n
    session.save()


def _world():
    counselor, client, staff = UserFactory(), UserFactory(), UserFactory(is_staff=True, is_superuser=True)
    counselor.profile.display_name = "AIカウンセラー（練習用のとても長い名前）"  # the client's header shows it
    counselor.profile.save()
    both = {"counselor": counselor, "client": client}
    live = SessionFactory(**both)
    _conversation(live, 12)
    ended = SessionFactory(**both, status=SessionStatus.ENDED, ended_at=timezone.now())
    _conversation(ended, 4)
    rated = SessionFactory(**both, status=SessionStatus.ENDED, ended_at=timezone.now() - timedelta(days=1))
    _conversation(rated, 4)
    feedback = FeedbackFactory(session=rated, total=0)
    feedback.__class__.objects.filter(pk=feedback.pk).update(**{SCREENING_FIELDS[0]: True})
    SessionFactory(
        **both, status=SessionStatus.SCHEDULED, starts_at=timezone.now() + timedelta(minutes=5), started_at=None
    )
    return {"counselor": counselor, "client": client, "staff": staff, "live": live, "ended": ended}


def _pages(w) -> list[tuple[str | None, str]]:
    return [
        (None, "/accounts/login/"),
        ("client", "/"),
        ("client", f"/sessions/{w['live'].pk}/"),
        ("client", f"/feedback/sessions/{w['ended'].pk}/"),
        ("client", "/schedule/"),
        ("client", "/notifications/"),
        ("counselor", f"/sessions/{w['live'].pk}/"),
        ("counselor", "/feedback/progress/"),
        ("staff", "/feedback/monitoring/"),
    ]


AXE_PATH = "/__test-axe.js"


def _axe(page) -> list[dict]:
    # Served as a same-origin file (intercepted, never by the site): the pages' Content-Security-Policy
    # allows scripts from the site only, so an inline copy would be blocked.
    origin = page.evaluate("location.origin")
    page.route(f"{origin}{AXE_PATH}", lambda route: route.fulfill(body=AXE, content_type="application/javascript"))
    page.add_script_tag(url=f"{origin}{AXE_PATH}")
    result = page.evaluate(
        "() => axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa']},"
        " resultTypes: ['violations']})"
    )
    return [v for v in result["violations"] if v["impact"] in BLOCKING]


def _describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        for node in v["nodes"][:3]:
            lines.append(f"{v['id']} ({v['impact']}): {node['target']} {node.get('failureSummary', '')[:160]}")
    return "\n".join(lines)


@pytest.mark.parametrize("language", ["ja", "en"])
def test_main_pages_have_no_serious_axe_violations(asgi_live_server, browser, language):
    w = _world()
    failures = []
    checked = 0
    for viewport in (DESKTOP, PHONE):
        contexts = {}
        try:
            for who, path in _pages(w):
                if who not in contexts:
                    if who is None:
                        ctx = browser.new_context(viewport=viewport)
                    else:
                        ctx = login(browser, asgi_live_server.url, w[who], viewport=viewport)
                    ctx.add_cookies([{"name": "django_language", "value": language, "url": asgi_live_server.url}])
                    contexts[who] = ctx
                page = contexts[who].new_page()
                page.goto(asgi_live_server.url + path, timeout=30_000)
                page.wait_for_load_state("networkidle")
                violations = _axe(page)
                checked += 1
                if violations:
                    failures.append(f"{language} {viewport['width']}px {who} {path}:\n{_describe(violations)}")
                page.close()
        finally:
            for ctx in contexts.values():
                ctx.close()
    assert checked == 2 * len(_pages(w))
    assert failures == [], "\n\n".join(failures)


def test_client_chat_fits_a_390x844_phone_without_page_scroll(asgi_live_server, browser):
    w = _world()
    ctx = login(browser, asgi_live_server.url, w["client"], viewport=PHONE)
    try:
        page = ctx.new_page()
        page.goto(f"{asgi_live_server.url}/sessions/{w['live'].pk}/")
        page.wait_for_selector("#chat-conn[data-ok=true]")
        # No page scroll: the document is exactly the screen; only the message list scrolls.
        assert page.evaluate("document.documentElement.scrollHeight") <= PHONE["height"]
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        for selector in (".phone-head", "#chat-input", "#chat-send"):
            box = page.locator(selector).bounding_box()
            assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"], selector
        # The partner's name is shown whole (wrapped, not cut with an ellipsis).
        title = page.locator("#chat-title")
        assert title.evaluate("el => el.scrollWidth <= el.clientWidth")
        assert "とても長い名前" in title.inner_text()
        # At least 8 lines of messages are visible at once.
        line = page.evaluate("parseFloat(getComputedStyle(document.querySelector('.bubble')).lineHeight)")
        visible = page.evaluate("document.getElementById('chat-scroll').clientHeight")
        assert visible >= 8 * line, (visible, line)
        # The menu is one line (collapsed) and opens from its button.
        assert page.locator("#mainnav").is_hidden()
        page.click("#nav-toggle")
        assert page.locator("#mainnav").is_visible()
        assert page.get_attribute("#nav-toggle", "aria-expanded") == "true"
    finally:
        ctx.close()
