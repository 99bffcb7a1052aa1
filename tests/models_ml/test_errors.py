"""Every service of the ML apps refuses with a kokoro_site.errors.ServiceError: one shape (code, message)."""

import pytest

from kokoro_site.errors import ServiceError
from models_ml.arena.services import ArenaError
from models_ml.coaching.services import CoachingError
from models_ml.finetuning.selectors import NoModelError
from models_ml.finetuning.services import PartnersError
from models_ml.practice.services import ERR_NOT_PRACTICE, PracticeError
from models_ml.scoring.base import ScorerError
from models_ml.scoring.services import TrainingError


@pytest.mark.parametrize(
    "error_class", [ArenaError, CoachingError, NoModelError, PartnersError, PracticeError, ScorerError, TrainingError]
)
def test_ml_service_errors_are_service_errors_with_a_code_and_a_message(error_class):
    exc = error_class("some_code", "Something was refused.")
    assert isinstance(exc, ServiceError)
    assert (exc.code, exc.message, str(exc)) == ("some_code", "Something was refused.", "Something was refused.")
    assert error_class(message="Refused.").code == "invalid"


def test_a_practice_refusal_keeps_its_code_for_the_views(db, django_user_model):
    from models_ml.practice.services import practice_reply_retry

    user = django_user_model.objects.create_user("someone", password="x")
    with pytest.raises(PracticeError) as info:
        practice_reply_retry(session_id=999999, user=user)
    assert info.value.code == "not_found"
    assert info.value.message == ERR_NOT_PRACTICE
