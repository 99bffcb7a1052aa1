"""Prediction reasons are stored as the English source text and shown in the reader's language."""

import pytest
from django.utils import translation

from models_ml.scoring.base import ERR_NO_MODEL, ERR_TOO_FEW_MESSAGES
from models_ml.scoring.models import Prediction, PredictionStatus
from models_ml.scoring.services import prediction_compute, prediction_fail
from tests.factories import MessageFactory, SessionFactory

pytestmark = pytest.mark.django_db


def _shown(prediction, language: str) -> str:
    with translation.override(language):
        return prediction.reason_text


def test_a_failure_reason_is_stored_in_english_and_shown_translated():
    session = SessionFactory()
    with translation.override("ja"):  # the worker's language does not matter
        prediction_fail(session_id=session.pk, reason=ERR_NO_MODEL)
    prediction = Prediction.objects.get(session=session)
    with translation.override("en"):
        english = str(ERR_NO_MODEL)
    with translation.override("ja"):
        japanese = str(ERR_NO_MODEL)
    assert japanese != english  # the catalogue has it
    assert prediction.reason == english
    assert (_shown(prediction, "en"), _shown(prediction, "ja")) == (english, japanese)


def test_a_reason_with_values_is_translated_with_its_values():
    session = SessionFactory()
    MessageFactory(session=session, seq=1, role="counselor")
    with translation.override("ja"):
        prediction_compute(session_id=session.pk)
    prediction = Prediction.objects.get(session=session)
    assert prediction.status == PredictionStatus.SKIPPED
    params = {"count": 1, "minimum": 4}
    with translation.override("en"):
        assert prediction.reason == str(ERR_TOO_FEW_MESSAGES % params)
    with translation.override("ja"):
        assert _shown(prediction, "ja") == str(ERR_TOO_FEW_MESSAGES % params)


def test_an_unknown_reason_is_shown_as_stored():
    session = SessionFactory()
    prediction_fail(session_id=session.pk, reason="CUDA out of memory")
    assert _shown(Prediction.objects.get(session=session), "ja") == "CUDA out of memory"
