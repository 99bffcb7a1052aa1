import pytest

from tests.browser.conftest import login
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser]


def test_logged_in_browser_reaches_the_real_asgi_server_and_static_files(asgi_live_server, browser):
    user = UserFactory(username="browser-smoke")
    context = login(browser, asgi_live_server.url, user)
    page = context.new_page()
    response = page.goto(asgi_live_server.url + "/admin/login/")
    assert response is not None and response.status == 200
    css = page.request.get(asgi_live_server.url + "/static/css/site.css")
    assert css.status == 200 and "--accent" in css.text()
    context.close()
