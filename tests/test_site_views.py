"""Site-wide views: the favicon."""

import pytest
from django.urls import reverse


@pytest.mark.django_db
def test_favicon_is_served_at_the_root_and_linked_from_every_page(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    body = response.content
    assert body[:4] == b"\x00\x00\x01\x00" and b"PNG" in body[:40]
    page = client.get(reverse("login")).content.decode()
    assert 'rel="icon" href="/favicon.ico"' in page
    assert "img/favicon.svg" in page
