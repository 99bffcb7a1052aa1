import io
import json
import zipfile

import pytest
from django.db import connections
from django.http import StreamingHttpResponse
from django.urls import reverse

from feedback.dataset.forms import ERR_DATE_ORDER, ERR_SCORE_ORDER
from feedback.dataset.importer import dataset_import
from feedback.models import ExportAudit
from roleplay.models import Session
from tests.factories import UserFactory

from .conftest import make_dialogue, write_files

pytestmark = pytest.mark.django_db


@pytest.fixture
def imported(tmp_path):
    files = {
        "1.json": make_dialogue(evaluation_id=1, sub="上司との関係"),
        "2.json": make_dialogue(
            evaluation_id=2,
            items=(2,) * 20,
            topic=("学校問題", "School Issues"),
            sub="部活動の悩み",
            lines=(("counselor", "こんばんは。"), ("client", "宿題がおわらないんです。")),
        ),
    }
    dataset_import(path=write_files(tmp_path, files))
    return {eid: Session.objects.get(feedback__evaluation_id=eid) for eid in (1, 2)}


@pytest.fixture
def staff_client(client):
    user = UserFactory(is_staff=True)
    client.force_login(user)
    client.user = user
    return client


PAGES = [("dataset:sessions", {}), ("dataset:analytics", {})]


@pytest.mark.parametrize(("name", "kwargs"), PAGES)
def test_anonymous_is_sent_to_login(client, name, kwargs):
    response = client.get(reverse(name, kwargs=kwargs))
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_participants_get_403_even_for_their_own_session(client, imported):
    session = imported[1]
    client.force_login(session.client)
    assert client.get(reverse("dataset:session_detail", args=[session.pk])).status_code == 403
    assert client.get(reverse("dataset:sessions")).status_code == 403
    assert client.get(reverse("dataset:analytics")).status_code == 403
    response = client.post(reverse("dataset:export"), {"subset": "all", "fmt": "jsonl"})
    assert response.status_code == 403
    assert not ExportAudit.objects.exists()


def test_staff_browse_lists_sessions(staff_client, imported):
    response = staff_client.get(reverse("dataset:sessions"))
    assert response.status_code == 200
    assert response.context["page"].paginator.count == 2
    assert "部活動の悩み" in response.content.decode()


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": "宿題"}, {2}),
        ({"q": "上司"}, {1}),
        ({"topic": "school"}, {2}),
        ({"score_min": 50}, {1}),
        ({"score_max": 40, "score_min": 40}, {2}),
        ({"source": "imported"}, {1, 2}),
        ({"source": "synthetic"}, set()),
    ],
)
def test_staff_search_filters(staff_client, imported, params, expected):
    response = staff_client.post(reverse("dataset:sessions"), params)
    found = {s.feedback.evaluation_id for s in response.context["page"].object_list}
    assert found == expected


def test_the_search_term_travels_by_post_only_never_in_the_url(staff_client, imported):
    by_post = staff_client.post(reverse("dataset:sessions"), {"q": "宿題", "page": "1"})
    assert {s.feedback.evaluation_id for s in by_post.context["page"].object_list} == {2}
    html = by_post.content.decode()
    assert 'method="post" id="dataset-search"' in html and "q=" not in html  # no term in any link
    in_url = staff_client.get(reverse("dataset:sessions"), {"q": "宿題"})  # ignored: every session listed
    assert in_url.context["page"].paginator.count == by_post.context["page"].paginator.count + 1


def test_search_with_inverted_score_range_shows_error(staff_client, imported):
    response = staff_client.post(reverse("dataset:sessions"), {"score_min": 80, "score_max": 10})
    assert str(ERR_SCORE_ORDER) in response.content.decode()
    assert response.context["page"].paginator.count == 0


def test_htmx_search_returns_only_the_table(staff_client, imported):
    response = staff_client.post(reverse("dataset:sessions"), {"q": "宿題"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert "<html" not in body and "部活動の悩み" in body and "dataset-table" in body


def test_staff_reads_a_transcript(staff_client, imported):
    response = staff_client.get(reverse("dataset:session_detail", args=[imported[2].pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "宿題がおわらないんです。" in body and "部活動の悩み" in body
    assert staff_client.get(reverse("dataset:session_detail", args=[999999])).status_code == 404


def test_web_export_streams_a_zip_and_is_audited(staff_client, imported):
    response = staff_client.post(reverse("dataset:export"), {"subset": "all", "fmt": "zip"})
    assert response.status_code == 200 and isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "application/zip"
    assert "attachment" in response["Content-Disposition"]
    data = b"".join(response.streaming_content)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert sorted(zf.namelist()) == ["kokorochat_dialogues/1.json", "kokorochat_dialogues/2.json"]
    audit = ExportAudit.objects.get()
    assert (audit.user, audit.channel, audit.fmt, audit.dialogue_count) == (staff_client.user, "web", "zip", 2)


def test_web_export_jsonl_with_options(staff_client, imported):
    response = staff_client.post(reverse("dataset:export"), {"subset": "low", "fmt": "chat-jsonl"})
    rows = [json.loads(x) for x in b"".join(response.streaming_content).decode().splitlines()]
    assert len(rows) == 1 and rows[0]["messages"][1] == {"role": "user", "content": "宿題がおわらないんです。"}
    assert ExportAudit.objects.get().params["subset"] == "low"


def test_invalid_export_options_are_refused_without_audit(staff_client, imported):
    response = staff_client.post(
        reverse("dataset:export"), {"subset": "all", "fmt": "zip", "since": "2024-06-01", "until": "2024-01-01"}
    )
    assert response.status_code == 400 and str(ERR_DATE_ORDER) in response.content.decode()
    assert staff_client.post(reverse("dataset:export"), {"subset": "x", "fmt": "zip"}).status_code == 400
    assert not ExportAudit.objects.exists()


def test_export_needs_post(staff_client):
    assert staff_client.get(reverse("dataset:export")).status_code == 405


def test_analytics_page_shows_figures_and_chart_data(staff_client, imported):
    response = staff_client.get(reverse("dataset:analytics"))
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="dataset-chart-data"' in body and "chart-4.6.1.umd.min.js" in body
    data = response.context["chart_data"]
    assert data["histogram"]["40"] == 1 and data["histogram"]["73"] == 1
    assert data["item_matrix"] == []  # fewer than 3 dialogues: no correlations
    assert {t["key"]: t["n"] for t in data["topics"]}["school"] == 1


@pytest.mark.django_db(transaction=True)
async def test_asgi_export_streams_asynchronously(async_client, tmp_path):
    from asgiref.sync import sync_to_async

    def setup():
        dataset_import(path=write_files(tmp_path, {"1.json": make_dialogue(evaluation_id=1)}))
        return UserFactory(is_staff=True)

    user = await sync_to_async(setup)()
    try:
        await async_client.aforce_login(user)
        response = await async_client.post(reverse("dataset:export"), {"subset": "all", "fmt": "jsonl"})
        assert response.is_async
        body = b"".join([piece async for piece in response.streaming_content])
        assert json.loads(body)["review_by_client_en"]["evaluation_id"] == 1
        assert await ExportAudit.objects.filter(channel="web", dialogue_count=1).acount() == 1
    finally:
        # the worker thread of sync_to_async keeps its own connection: close it for teardown
        await sync_to_async(connections.close_all)()


def test_session_without_feedback_is_listed_and_readable(staff_client):
    from tests.factories import MessageFactory

    message = MessageFactory(text="評価前の会話です。")
    response = staff_client.post(reverse("dataset:sessions"), {"q": "評価前"})
    assert [s.pk for s in response.context["page"].object_list] == [message.session_id]
    detail = staff_client.get(reverse("dataset:session_detail", args=[message.session_id])).content.decode()
    assert "評価前の会話です。" in detail and "feedback" not in response.context


def test_pages_are_japanese_by_default(staff_client, imported):
    body = staff_client.get(reverse("dataset:analytics"), headers={"Accept-Language": "ja"}).content.decode()
    assert "研究用データセットのエクスポート" in body and "20項目間のスピアマン相関" in body
