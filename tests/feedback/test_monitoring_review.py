"""Monitoring flags can be marked reviewed with a follow-up note (append-only audit log)."""

import pytest
from django.urls import reverse

from feedback.models import MonitoringReview
from feedback.services import (
    ERR_REVIEW_NOT_FLAGGED,
    ERR_REVIEW_STAFF_ONLY,
    FeedbackError,
    monitoring_review_create,
)
from tests.factories import FeedbackFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_staff_marks_a_flag_reviewed_and_every_review_is_kept(caplog):
    staff = UserFactory(is_staff=True)
    flagged = FeedbackFactory()
    flagged.__class__.objects.filter(pk=flagged.pk).update(**{_s1(): True})
    with caplog.at_level("INFO", logger="feedback.services"):
        first = monitoring_review_create(feedback=flagged, reviewer=staff, note="  Talked to the counselor.  ")
    second = monitoring_review_create(feedback=flagged, reviewer=staff, note="")
    assert first.note == "Talked to the counselor."
    assert list(flagged.reviews.values_list("pk", flat=True)) == [second.pk, first.pk]
    assert f"feedback {flagged.pk}" in caplog.text and "reviewed by user" in caplog.text


@pytest.mark.parametrize("case", ["not_staff", "not_flagged", "too_long"])
def test_refused_reviews_store_nothing(case):
    feedback = FeedbackFactory()
    if case != "not_flagged":
        feedback.__class__.objects.filter(pk=feedback.pk).update(**{_s1(): True})
    reviewer = UserFactory(is_staff=case != "not_staff")
    note = "x" * 2001 if case == "too_long" else "ok"
    with pytest.raises(FeedbackError) as exc:
        monitoring_review_create(feedback=feedback, reviewer=reviewer, note=note)
    expected = {"not_staff": ERR_REVIEW_STAFF_ONLY, "not_flagged": ERR_REVIEW_NOT_FLAGGED}.get(case)
    if expected is not None:
        assert exc.value.message == expected
    assert not MonitoringReview.objects.exists()


def test_monitoring_page_shows_the_review_and_the_form(client):
    staff = UserFactory(is_staff=True)
    feedback = FeedbackFactory()
    feedback.__class__.objects.filter(pk=feedback.pk).update(**{_s1(): True})
    client.force_login(staff)
    client.cookies.load({"django_language": "en"})
    page = client.get(reverse("feedback:monitoring")).content.decode()
    assert "Not reviewed" in page and reverse("feedback:monitoring_review", args=[feedback.pk]) in page
    response = client.post(
        reverse("feedback:monitoring_review", args=[feedback.pk]),
        {"note": "Called the client back <b>today</b>", "next": reverse("feedback:monitoring")},
        follow=True,
    )
    page = response.content.decode()
    assert "Reviewed" in page and "Called the client back &lt;b&gt;today&lt;/b&gt;" in page
    assert MonitoringReview.objects.get().reviewer == staff


def test_non_staff_cannot_post_a_review(client):
    feedback = FeedbackFactory()
    client.force_login(UserFactory())
    assert client.post(reverse("feedback:monitoring_review", args=[feedback.pk]), {"note": "x"}).status_code == 403
    assert not MonitoringReview.objects.exists()


def _s1() -> str:
    from feedback.items import SCREENING_FIELDS

    return SCREENING_FIELDS[0]
