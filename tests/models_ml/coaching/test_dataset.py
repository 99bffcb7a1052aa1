"""One published KokoroChat file imported with the real command, then reviewed on the timeline."""

import json
import shutil

import pytest
from django.core.management import call_command
from django.urls import reverse

from roleplay.models import Session, SessionSource
from tests.factories import UserFactory

pytestmark = [pytest.mark.dataset, pytest.mark.django_db]


def test_timeline_of_an_imported_published_session(kokorochat_dir, tmp_path, client):
    folder = tmp_path / "one"
    folder.mkdir()
    source = kokorochat_dir / "100.json"
    shutil.copy(source, folder / source.name)  # a temporary copy, never into the repository
    call_command("import_kokorochat", str(folder), "--quiet")
    session = Session.objects.get(source=SessionSource.IMPORTED)
    dialogue = json.loads(source.read_text(encoding="utf-8"))["dialogue"]
    client.force_login(UserFactory(is_staff=True))
    response = client.get(reverse("coaching:timeline", args=[session.pk]))
    assert response.status_code == 200
    rows = response.context["rows"]
    assert len(rows) == len(dialogue)
    n_counselor = sum(1 for m in dialogue if m["role"] == "counselor")
    assert response.context["stats"]["counselor_messages"] == n_counselor
    assert any(r.response_s is not None for r in rows)
    total = session.feedback.total
    reference = response.context["reference"]
    assert (reference is not None) == (70 <= total <= 98)
