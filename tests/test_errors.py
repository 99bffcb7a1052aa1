"""Every service error of roleplay and feedback is a ``kokoro_site.errors.ServiceError(code, message)``."""

import pytest
from django.utils.translation import gettext_lazy as _

from feedback.dataset.errors import DatasetFormatError, DatasetSourceError
from feedback.dataset.formats import parse_file
from feedback.services import FeedbackError
from kokoro_site.errors import ServiceError
from roleplay.services.chat import ChatError, message_text_clean
from roleplay.services.sessions import SessionError

ERRORS = (SessionError, ChatError, FeedbackError, DatasetFormatError, DatasetSourceError)
MSG = _("A refusal for the test.")


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: e.__name__)
def test_each_service_error_has_the_one_shape_code_then_message(error):
    exc = error("some_code", MSG)
    assert isinstance(exc, ServiceError)
    assert (exc.code, exc.message) == ("some_code", MSG)
    assert str(exc) == str(MSG)
    assert repr(exc) == f"{error.__name__}(code='some_code', message={str(MSG)!r})"


def test_a_service_error_without_a_code_gets_the_default_one():
    assert ServiceError(message=MSG).code == "invalid"


def test_a_raised_chat_error_carries_its_code():
    with pytest.raises(ServiceError) as exc:
        message_text_clean("   ")
    assert type(exc.value) is ChatError and exc.value.code == "empty"


def test_a_format_error_is_a_service_error_with_the_dataset_code():
    with pytest.raises(ServiceError) as exc:
        parse_file(b"{not json")
    assert type(exc.value) is DatasetFormatError and exc.value.code == "dataset_format"
