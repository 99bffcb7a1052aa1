"""``message_created`` receivers (AI partners, live coaching) stay off the hot path of human role-plays."""

import pytest

from roleplay.models import Role, SessionSource
from roleplay.services.chat import message_announce
from tests.factories import SessionFactory


def _info(session, role: str) -> dict:
    return {
        "session_id": session.pk,
        "message_id": 1,
        "seq": 1,
        "role": role,
        "sender_id": session.client_id,
        "source": session.source,
    }


@pytest.mark.django_db
def test_a_client_message_in_a_human_role_play_costs_no_receiver_query(django_assert_num_queries):
    session = SessionFactory(source=SessionSource.LIVE)
    with django_assert_num_queries(0):
        message_announce(_info(session, Role.CLIENT))


@pytest.mark.django_db
def test_a_counselor_message_in_a_human_role_play_only_reads_the_coaching_switch(django_assert_num_queries):
    session = SessionFactory(source=SessionSource.LIVE)
    with django_assert_num_queries(1):
        message_announce(_info(session, Role.COUNSELOR))
