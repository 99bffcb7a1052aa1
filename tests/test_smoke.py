import pytest

from tests.factories import FeedbackFactory, MessageFactory, UserFactory


@pytest.mark.django_db
def test_factories_build_a_session_with_feedback_and_messages():
    user = UserFactory()
    assert user.profile.display_name == f"name-{user.username}"
    assert user.check_password("pass-12345")
    fb = FeedbackFactory()
    assert fb.item_values == [3] * 20
    msg = MessageFactory(session=fb.session)
    assert msg.session.feedback == fb
