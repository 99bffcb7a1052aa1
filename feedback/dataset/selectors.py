"""Reads for the dataset area: export selection, session browsing, export ids."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta

from django.db.models import Exists, F, OuterRef, Q, QuerySet

from feedback.items import ITEM_FIELDS
from feedback.models import Feedback
from roleplay.models import Message, MessageTranslation, Session

# Platform accounts without a research id are exported as DERIVED_ID_OFFSET + user id
# (stable, and far above the published ids 1..~500).
DERIVED_ID_OFFSET = 1_000_000

SUBSETS: dict[str, tuple[int | None, int | None]] = {
    # name: (min score, max score), inclusive; the KokoroChat paper's splits
    "all": (None, None),
    "full": (None, 98),
    "low": (None, 69),
    "high": (70, 98),
    "test": (99, 100),
}
FORMATS = ("folder", "zip", "jsonl", "chat-jsonl")
QUALITY_MIN_MESSAGES = 30
QUALITY_MIN_MINUTES = 30


@dataclass(frozen=True)
class ExportOptions:
    subset: str = "all"
    quality_filter: bool = False
    since: date | None = None
    until: date | None = None
    include_synthetic: bool = False

    def as_params(self) -> dict:
        params = asdict(self)
        params["since"] = self.since.isoformat() if self.since else None
        params["until"] = self.until.isoformat() if self.until else None
        return params


def export_id(research_id: int | None, user_id: int | None) -> int | None:
    if research_id is not None:
        return research_id
    return None if user_id is None else DERIVED_ID_OFFSET + user_id


def score_filter(subset: str) -> Q:
    low, high = SUBSETS[subset]
    q = Q()
    if low is not None:
        q &= Q(total__gte=low)
    if high is not None:
        q &= Q(total__lte=high)
    return q


def _export_base(options: ExportOptions) -> QuerySet[Feedback]:
    qs = Feedback.objects.filter(score_filter(options.subset))
    if not options.include_synthetic:
        qs = qs.filter(session__is_synthetic=False)
    if options.since:
        qs = qs.filter(session__starts_at__date__gte=options.since)
    if options.until:
        qs = qs.filter(session__starts_at__date__lte=options.until)
    if options.quality_filter:
        # Session.last_seq is the number of messages (numbered 1..last_seq): a plain column the
        # planner estimates well, where a per-row COUNT subquery made the export ~3x slower.
        qs = (
            qs.filter(session__last_seq__gte=QUALITY_MIN_MESSAGES)
            .filter(session__ended_at__gte=F("session__started_at") + timedelta(minutes=QUALITY_MIN_MINUTES))
            .exclude(Q(**{f: 3 for f in ITEM_FIELDS}))
        )
    return qs


def export_feedback_queryset(options: ExportOptions) -> QuerySet[Feedback]:
    """Feedback rows to export: sessions with feedback and at least one message (a dataset
    record needs both; the importer refuses a dialogue without messages)."""
    return _export_base(options).filter(_has_messages()).order_by("evaluation_id")


def export_without_messages_count(options: ExportOptions) -> int:
    """Sessions the options select that are left out because they have no messages."""
    return _export_base(options).exclude(_has_messages()).count()


def translated_filter(language: str) -> Exists:
    """Sessions whose first message is translated into ``language`` (an index lookup per session;
    a dialogue translated only in part is then left out by the export, with the reason)."""
    first = MessageTranslation.objects.filter(message__session_id=OuterRef("session_id"), message__seq=1)
    return Exists(first.filter(language=language))


def _has_messages() -> Exists:
    return Exists(Message.objects.filter(session_id=OuterRef("session_id")))


@dataclass(frozen=True)
class SessionSearch:
    q: str = ""
    topic: str = ""
    score_min: int | None = None
    score_max: int | None = None
    source: str = ""  # a SessionSource value, "synthetic", or "" for all


def session_search_queryset(search: SessionSearch) -> QuerySet[Session]:
    qs = Session.objects.select_related("feedback", "counselor__profile", "client__profile")
    if search.q:
        hit = Message.objects.filter(session=OuterRef("pk"), text__icontains=search.q)
        qs = qs.filter(Q(Exists(hit)) | Q(topic_sub__icontains=search.q))
    if search.topic:
        qs = qs.filter(topic=search.topic)
    if search.score_min is not None:
        qs = qs.filter(feedback__total__gte=search.score_min)
    if search.score_max is not None:
        qs = qs.filter(feedback__total__lte=search.score_max)
    if search.source == "synthetic":
        qs = qs.filter(is_synthetic=True)
    elif search.source:
        qs = qs.filter(source=search.source)
    return qs.annotate(n_messages=F("last_seq")).order_by("-starts_at", "-pk")


def session_detail(session_id: int) -> Session:
    return Session.objects.select_related("feedback", "counselor__profile", "client__profile").get(pk=session_id)


def session_messages(session: Session) -> QuerySet[Message]:
    return session.messages.order_by("seq")
