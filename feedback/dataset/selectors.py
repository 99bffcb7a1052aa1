"""Reads for the dataset area: export selection, session browsing, export ids."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta

from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from feedback.items import ITEM_FIELDS
from feedback.models import Feedback
from roleplay.models import Message, Session

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


def message_count_subquery() -> Subquery:
    counts = Message.objects.filter(session=OuterRef("session")).order_by().values("session").annotate(c=Count("pk"))
    return Subquery(counts.values("c"), output_field=IntegerField())


def score_filter(subset: str) -> Q:
    low, high = SUBSETS[subset]
    q = Q()
    if low is not None:
        q &= Q(total__gte=low)
    if high is not None:
        q &= Q(total__lte=high)
    return q


def export_feedback_queryset(options: ExportOptions) -> QuerySet[Feedback]:
    """Feedback rows to export (only sessions with feedback and messages have a dataset record)."""
    qs = Feedback.objects.filter(score_filter(options.subset)).filter(
        Exists(Message.objects.filter(session=OuterRef("session")))
    )
    if not options.include_synthetic:
        qs = qs.filter(session__is_synthetic=False)
    if options.since:
        qs = qs.filter(session__starts_at__date__gte=options.since)
    if options.until:
        qs = qs.filter(session__starts_at__date__lte=options.until)
    if options.quality_filter:
        qs = (
            qs.alias(n_messages=Coalesce(message_count_subquery(), 0))
            .filter(n_messages__gte=QUALITY_MIN_MESSAGES)
            .filter(session__ended_at__gte=F("session__started_at") + timedelta(minutes=QUALITY_MIN_MINUTES))
            .exclude(Q(**{f: 3 for f in ITEM_FIELDS}))
        )
    return qs.order_by("evaluation_id")


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
