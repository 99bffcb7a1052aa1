"""The pages run under the Content-Security-Policy (every browser test fails on a violation:
see ``watch_csp`` in conftest); this file checks that the watcher itself sees one."""

import pytest

from tests.browser.conftest import login
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

INJECT = """() => {
  const s = document.createElement("script");
  s.textContent = "window.__inlineRan = 1";
  document.body.appendChild(s);
}"""


def test_an_injected_inline_script_is_blocked_and_reported(asgi_live_server, browser, csp_violations):
    ctx = login(browser, asgi_live_server.url, UserFactory())
    try:
        page = ctx.new_page()
        response = page.goto(f"{asgi_live_server.url}/")
        assert "script-src 'self'" in response.headers["content-security-policy"]
        page.evaluate(INJECT)
        assert page.evaluate("() => window.__inlineRan") is None
        page.wait_for_timeout(300)
        assert any("script-src" in str(v) for v in csp_violations), csp_violations
        csp_violations.clear()  # expected here; any other test with a violation fails
    finally:
        ctx.close()


def test_the_language_menu_switches_without_an_inline_handler(asgi_live_server, browser):
    ctx = login(browser, asgi_live_server.url, UserFactory(), locale="ja-JP")
    try:
        page = ctx.new_page()
        page.goto(f"{asgi_live_server.url}/")
        assert page.get_attribute("html", "lang") == "ja"
        with page.expect_navigation():
            page.select_option("select[name=language]", "en")
        assert page.get_attribute("html", "lang") == "en"
    finally:
        ctx.close()
