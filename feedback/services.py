"""Feedback writes: the client-role participant's rating of a finished session.

``evaluation_id``: the dataset numbers its evaluations 1..~7,300; feedback given on this
platform gets the next free id, ``max(evaluation_id) + 1`` but never below
``PLATFORM_EVALUATION_ID_START`` (100000), so platform ids never collide with the dataset's
(imported feedback keeps its own id). Two submissions for different sessions may compute the
same id at once; the unique constraint rejects the second, which retries with a fresh id
inside a savepoint (``EVALUATION_ID_ATTEMPTS`` times).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kokoro_site.errors import ServiceError
from roleplay.models import Message, Role, Session, SessionStatus
from roleplay.notify import session_notify

from .items import ITEM_FIELDS, ITEM_MAX, ITEM_MIN, SCREENING_FIELDS, compute_total
from .models import Feedback, MonitoringReview

logger = logging.getLogger(__name__)

PLATFORM_EVALUATION_ID_START = 100_000
EVALUATION_ID_ATTEMPTS = 5
FEEDBACK_EVENT_AUDIENCE = ("counselor", "observer")

ERR_NOT_CLIENT = _("Only the client-role participant of this session can give this feedback.")
ERR_NOT_ENDED = _("Feedback can be given once the session has ended.")
ERR_NOT_HELD = _(
    "Feedback needs a session that took place: it must have started and have at least one message from each side."
)
ERR_ALREADY_SUBMITTED = _("Feedback for this session has already been submitted.")
ERR_ITEM_MISSING = _("Please answer every item (0 to 5).")
ERR_ITEM_RANGE = _("Each item must be a whole number from 0 to 5.")
ERR_UNKNOWN_FIELD = _("The form contained an unknown field.")
ERR_SCREENING_VALUE = _("Screening items must be checked or unchecked.")
ERR_REVIEW_STAFF_ONLY = _("Only administrators can review monitoring flags.")
ERR_REVIEW_NOT_FLAGGED = _("This feedback has no screening item checked: there is nothing to review.")
ERR_REVIEW_NOTE_TOO_LONG = _("The note can have at most %(max)s characters.")
REVIEW_NOTE_MAX = 2000
ERR_TRY_AGAIN = _("The feedback could not be saved. Please try again.")


class FeedbackError(ServiceError):
    """A refused submission; ``code`` is stable for views and tests, ``message`` is for people."""


def _clean_values(values: Mapping[str, object]) -> dict[str, int]:
    unknown = set(values) - set(ITEM_FIELDS)
    if unknown:
        raise FeedbackError("unknown_field", ERR_UNKNOWN_FIELD)
    if any(values.get(field) is None for field in ITEM_FIELDS):
        raise FeedbackError("item_missing", ERR_ITEM_MISSING)
    cleaned: dict[str, int] = {}
    for field in ITEM_FIELDS:
        value = values[field]
        # bool is an int subclass: True must not pass as 1.
        if isinstance(value, bool) or not isinstance(value, int) or not ITEM_MIN <= value <= ITEM_MAX:
            raise FeedbackError("item_range", ERR_ITEM_RANGE)
        cleaned[field] = value
    return cleaned


def _clean_screenings(screenings: Mapping[str, object]) -> dict[str, bool]:
    if set(screenings) - set(SCREENING_FIELDS):
        raise FeedbackError("unknown_field", ERR_UNKNOWN_FIELD)
    if any(not isinstance(v, bool) for v in screenings.values()):
        raise FeedbackError("screening_value", ERR_SCREENING_VALUE)
    return {field: bool(screenings.get(field, False)) for field in SCREENING_FIELDS}


def feedback_next_evaluation_id() -> int:
    current = Feedback.objects.aggregate(m=Max("evaluation_id"))["m"] or 0
    return max(current + 1, PLATFORM_EVALUATION_ID_START)


def session_was_held(*, session: Session) -> bool:
    """Started, with at least one message from the counselor and one from the client."""
    if session.started_at is None:
        return False
    roles = set(Message.objects.filter(session_id=session.pk).values_list("role", flat=True).distinct())
    return {Role.COUNSELOR, Role.CLIENT} <= roles


def _check_may_submit(*, session: Session, client) -> None:
    if client is None or not getattr(client, "pk", None) or client.pk != session.client_id:
        raise FeedbackError("not_client", ERR_NOT_CLIENT)
    if session.status != SessionStatus.ENDED:
        raise FeedbackError("not_ended", ERR_NOT_ENDED)
    if not session_was_held(session=session):
        raise FeedbackError("not_held", ERR_NOT_HELD)
    if Feedback.objects.filter(session_id=session.pk).exists():
        raise FeedbackError("already_submitted", ERR_ALREADY_SUBMITTED)


def feedback_refusal(*, session: Session, user) -> FeedbackError | None:
    """Why ``user`` may not (or no longer) give feedback on ``session``; None if they may.

    For pages (no lock); ``feedback_submit`` repeats the check on the locked row.
    """
    try:
        _check_may_submit(session=session, client=user)
    except FeedbackError as exc:
        return exc
    return None


@transaction.atomic
def feedback_submit(*, session: Session, client, values: Mapping[str, int], screenings: Mapping[str, bool]) -> Feedback:
    """Store the client's feedback for an ended session and push it to the counselor's page.

    ``values`` maps every ``Item.field`` to 0..5; ``screenings`` maps ``Screening.field`` to a
    bool (missing = unchecked). The total is computed here only. Raises ``FeedbackError``.
    """
    # Lock the session row: two submits for the same session run one after the other, and the
    # second sees the first's row (the OneToOne field is the last line of defence).
    locked = Session.objects.select_for_update().get(pk=session.pk)
    _check_may_submit(session=locked, client=client)
    cleaned = _clean_values(values)
    flags = _clean_screenings(screenings)
    total = compute_total(
        [cleaned[f] for f in ITEM_FIELDS],
        s1=flags[SCREENING_FIELDS[0]],
        s2=flags[SCREENING_FIELDS[1]],
        s3=flags[SCREENING_FIELDS[2]],
    )
    feedback = _create_with_free_id(
        session=locked,
        total=total,
        **cleaned,
        **flags,
    )
    transaction.on_commit(lambda: _notify(feedback))
    return feedback


def _create_with_free_id(*, session: Session, **fields) -> Feedback:
    for attempt in range(EVALUATION_ID_ATTEMPTS):
        try:
            with transaction.atomic():  # savepoint: a clash rolls back only this insert
                return Feedback.objects.create(
                    session=session,
                    evaluation_id=feedback_next_evaluation_id(),
                    created_at=timezone.now(),
                    client_id=session.client_id,
                    counselor_id=session.counselor_id,
                    **fields,
                )
        except IntegrityError:
            if Feedback.objects.filter(session_id=session.pk).exists():
                raise FeedbackError("already_submitted", ERR_ALREADY_SUBMITTED) from None
            logger.info("evaluation id clash for session %s (attempt %s); retrying", session.pk, attempt + 1)
    raise FeedbackError("try_again", ERR_TRY_AGAIN)


def feedback_event(feedback: Feedback) -> dict:
    """The socket frame announcing a new feedback (the page fetches the details itself)."""
    return {
        "type": "feedback",
        "session_id": feedback.session_id,
        "evaluation_id": feedback.evaluation_id,
        "total": feedback.total,
        "any_screening": feedback.any_screening,
        "fragment_url": reverse("feedback:result_fragment", args=[feedback.session_id]),
    }


def _notify(feedback: Feedback) -> None:
    try:
        session_notify(session_id=feedback.session_id, event=feedback_event(feedback), audience=FEEDBACK_EVENT_AUDIENCE)
    except Exception:  # the layer is a hint; the result page also loads the feedback from the DB
        logger.exception("could not push feedback of session %s", feedback.session_id)


@transaction.atomic
def monitoring_review_create(*, feedback: Feedback, reviewer, note: str) -> MonitoringReview:
    """Mark a flagged feedback as reviewed with a follow-up note (append-only, audit-logged)."""
    if reviewer is None or not getattr(reviewer, "is_staff", False):
        raise FeedbackError("forbidden", ERR_REVIEW_STAFF_ONLY)
    note = (note or "").strip()
    if len(note) > REVIEW_NOTE_MAX:
        raise FeedbackError("note_too_long", ERR_REVIEW_NOTE_TOO_LONG % {"max": REVIEW_NOTE_MAX})
    locked = Feedback.objects.select_for_update().get(pk=feedback.pk)
    if not any(getattr(locked, field) for field in SCREENING_FIELDS):
        raise FeedbackError("not_flagged", ERR_REVIEW_NOT_FLAGGED)
    review = MonitoringReview.objects.create(feedback=locked, reviewer=reviewer, note=note)
    logger.info(
        "monitoring: feedback %s (session %s) reviewed by user %s, review %s",
        locked.pk,
        locked.session_id,
        reviewer.pk,
        review.pk,
    )
    return review
