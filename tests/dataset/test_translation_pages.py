"""Side by side: the transcript (chat room), review (coaching timeline) and dataset pages show the
original and the translation with a toggle, on the translation by default when the UI speaks its language."""

import re

import pytest
from django.urls import reverse
from django.utils import translation

from feedback.dataset.importer import dataset_import
from roleplay.models import Session
from roleplay.selectors.translations import session_translation
from tests.factories import UserFactory

from .conftest import LINES_EN, make_dialogue, make_multilingual, write_files

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("keep_active_language")]


ZH = tuple(f"中文翻译{n}" for n in range(6))


@pytest.fixture
def sessions(tmp_path):
    """Session 7 translated into English and Chinese, session 8 Japanese only."""
    jp = make_dialogue(evaluation_id=7)
    files = {
        "en7.json": make_multilingual(jp),
        "zh7.json": make_multilingual(jp, ZH),
        "8.json": make_dialogue(evaluation_id=8),
    }
    with translation.override("en"):
        assert dataset_import(path=write_files(tmp_path, files)).ok
    return {eid: Session.objects.get(feedback__evaluation_id=eid) for eid in (7, 8)}


@pytest.fixture
def staff(client):
    client.force_login(UserFactory(is_staff=True))
    return client


def _page(client, url, language):
    client.cookies.load({"django_language": language})
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def _urls(session):
    return [
        reverse("dataset:session_detail", args=[session.pk]),
        reverse("coaching:timeline", args=[session.pk]),
        reverse("roleplay:session", args=[session.pk]),
    ]


def test_the_selector_picks_the_ui_language_then_english():
    assert session_translation(session_id=123456).language is None


def test_selector_choice_and_default(sessions):
    sid = sessions[7].pk
    en = session_translation(session_id=sid, ui_language="en")
    assert (en.language, en.default, en.text_for(1)) == ("en", "translation", LINES_EN[0])
    ja = session_translation(session_id=sid, ui_language="ja")
    assert (ja.language, ja.default) == ("en", "original")  # English is shown beside the Japanese UI
    zh = session_translation(session_id=sid, ui_language="zh-hans")
    assert (zh.language, zh.default, zh.text_for(6)) == ("zh", "translation", ZH[5])
    assert session_translation(session_id=sessions[8].pk, ui_language="en").language is None


@pytest.mark.parametrize("page", [0, 1, 2])
def test_pages_show_original_and_translation_with_a_toggle(staff, sessions, page):
    url = _urls(sessions[7])[page]
    html = _page(staff, url, "en")
    assert 'data-tr-view="translation"' in html and "js/translation_toggle.js" in html
    assert re.search(r'<span class="tr-original" lang="ja">朝起きるのがつらいです。</span>', html)
    assert '<span class="tr-translation" lang="en">Getting up in the morning is hard.</span>' in html
    assert html.count('data-tr-view="original" aria-pressed="false"') == 1
    assert "<script>" not in html  # CSP: no inline script
    html = _page(staff, url, "ja")
    assert 'data-tr-view="original"' in html and "原文（日本語）" in html and "翻訳（英語）" in html
    assert 'data-tr-view="original" aria-pressed="true"' in html


@pytest.mark.parametrize("page", [0, 1, 2])
def test_a_session_without_translation_has_no_toggle(staff, sessions, page):
    html = _page(staff, _urls(sessions[8])[page], "en")
    assert "tr-toggle" not in html and "tr-pair" not in html and "translation_toggle.js" not in html
