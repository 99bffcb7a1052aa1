"""Content-Security-Policy: the header on every page, and templates without inline scripts."""

import re

import pytest

from tests.conftest import REPO_ROOT

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/(?:ld\+)?json)[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)
JS_URL = re.compile(r"javascript:", re.I)


def _templates():
    roots = [REPO_ROOT / "templates", *REPO_ROOT.glob("*/templates"), *REPO_ROOT.glob("models_ml/*/templates")]
    return sorted(p for root in roots for p in root.rglob("*.html"))


@pytest.mark.django_db
def test_pages_send_a_policy_without_inline_or_eval_scripts(client):
    response = client.get("/accounts/login/")
    policy = dict(
        part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";") if part.strip()
    )
    assert policy["script-src"] == "'self'"
    assert policy["default-src"] == "'self'" and policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"


@pytest.mark.parametrize("path", _templates(), ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_templates_have_no_inline_scripts_handlers_or_javascript_urls(path):
    html = path.read_text(encoding="utf-8")
    assert not INLINE_SCRIPT.search(html), "move the script into static/js (values through data- attributes)"
    assert not INLINE_HANDLER.search(html), "attach the handler from a static/js file"
    assert not JS_URL.search(html)
