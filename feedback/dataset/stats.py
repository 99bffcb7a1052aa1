"""Dataset statistics (the KokoroChat paper's Table figures), computed with database aggregates.

``dataset_summary`` is the fast part (aggregates only); ``dataset_correlations`` streams the
messages once for per-dialogue features and is cached.
"""

from __future__ import annotations

import math
import warnings

from django.core.cache import cache
from django.db import connection
from django.db.models import Avg, Count, Max, Q, Sum
from django.db.models.functions import Length

from feedback.items import ITEM_FIELDS, ITEMS, SCREENINGS
from feedback.models import Feedback
from roleplay.models import Message, Role
from roleplay.topics import TOPIC_LABELS

from .selectors import SUBSETS, ExportOptions, export_feedback_queryset

CACHE_SECONDS = 600
FEATURES = ("client_chars", "counselor_chars", "client_messages", "counselor_messages", "counselor_response_s")


def _ratio(a: float | int | None, b: int) -> float | None:
    return round(a / b, 2) if a is not None and b else None


def _median(histogram: dict[int, int]) -> float | None:
    n = sum(histogram.values())
    if not n:
        return None
    wanted = [(n - 1) // 2, n // 2]
    values, seen = [], 0
    for score in sorted(histogram):
        count = histogram[score]
        values += [score for w in wanted if seen <= w < seen + count]
        seen += count
    median = sum(values) / 2
    return int(median) if median.is_integer() else median


def dataset_summary(options: ExportOptions | None = None) -> dict:
    """Dialogue, speaker, message, score, screening and subset figures of the exportable data."""
    fb = export_feedback_queryset(options or ExportOptions())
    dialogues = fb.count()
    counselors = set(fb.values_list("session__counselor_id", flat=True).distinct())
    clients = set(fb.values_list("session__client_id", flat=True).distinct())
    counselors.discard(None)
    clients.discard(None)
    pairs = fb.values("session__counselor_id", "session__client_id").distinct().count()
    msg = Message.objects.filter(session__feedback__in=fb.values("pk"))
    per_role = {r["role"]: r for r in msg.order_by().values("role").annotate(n=Count("pk"), chars=Sum(Length("text")))}
    n_msg = sum(r["n"] for r in per_role.values())
    chars = sum(r["chars"] or 0 for r in per_role.values())

    def role(name: str) -> dict:
        r = per_role.get(name, {"n": 0, "chars": 0})
        return {"n": r["n"], "per_dialogue": _ratio(r["n"], dialogues), "chars_per_message": _ratio(r["chars"], r["n"])}

    histogram = dict(fb.order_by().values_list("total").annotate(c=Count("pk")).values_list("total", "c"))
    agg = fb.aggregate(
        mean=Avg("total"),
        any_screening=Count(
            "pk",
            filter=Q(**{SCREENINGS[0].field: True})
            | Q(**{SCREENINGS[1].field: True})
            | Q(**{SCREENINGS[2].field: True}),
        ),
        **{s.field: Count("pk", filter=Q(**{s.field: True})) for s in SCREENINGS},
    )
    subset_sizes = {name: sum(c for score, c in histogram.items() if _in_subset(name, score)) for name in SUBSETS}
    topics = dict(
        fb.order_by().values_list("session__topic").annotate(c=Count("pk")).values_list("session__topic", "c")
    )
    return {
        "dialogues": dialogues,
        "speakers": len(counselors | clients),
        "counselor_speakers": len(counselors),
        "client_speakers": len(clients),
        "pairs": pairs,
        "messages": n_msg,
        "messages_per_dialogue": _ratio(n_msg, dialogues),
        "chars_per_message": _ratio(chars, n_msg),
        "counselor": role(Role.COUNSELOR),
        "client": role(Role.CLIENT),
        "score_mean": round(agg["mean"], 2) if agg["mean"] is not None else None,
        "score_median": _median(histogram),
        "score_histogram": {str(s): histogram.get(s, 0) for s in range(101)},
        "screenings": {s.field: agg[s.field] for s in SCREENINGS},
        "any_screening": agg["any_screening"],
        "subsets": subset_sizes,
        "topics": {key: topics.get(key, 0) for key in TOPIC_LABELS},
    }


def _in_subset(name: str, score: int) -> bool:
    low, high = SUBSETS[name]
    return (low is None or score >= low) and (high is None or score <= high)


def _dialogue_features(fb) -> dict[int, dict]:
    """Per-session character/message totals and the counselor's mean response time (seconds).

    Both are computed by the database: a grouped aggregate, and a window query (LAG over
    each session's messages) for the delay between a client message and the counselor's reply.
    """
    sessions = fb.values("session_id")
    totals = (
        Message.objects.filter(session_id__in=sessions)
        .order_by()
        .values("session_id")
        .annotate(
            client_chars=Sum(Length("text"), filter=Q(role=Role.CLIENT), default=0),
            counselor_chars=Sum(Length("text"), filter=Q(role=Role.COUNSELOR), default=0),
            client_messages=Count("pk", filter=Q(role=Role.CLIENT)),
            counselor_messages=Count("pk", filter=Q(role=Role.COUNSELOR)),
        )
    )
    feats = {row.pop("session_id"): {**row, "counselor_response_s": None} for row in totals}
    for session_id, seconds in _response_times(sessions):
        if session_id in feats:
            feats[session_id]["counselor_response_s"] = float(seconds) if seconds is not None else None
    return feats


def _response_times(sessions) -> list[tuple[int, float | None]]:
    sub_sql, params = sessions.query.sql_with_params()
    table = connection.ops.quote_name(Message._meta.db_table)
    if connection.vendor == "postgresql":
        delta = "EXTRACT(EPOCH FROM (created_at - prev_time))"
    else:
        delta = "(julianday(created_at) - julianday(prev_time)) * 86400.0"
    sql = f"""
        SELECT session_id, AVG({delta}) FROM (
            SELECT session_id, role, created_at,
                   LAG(role) OVER w AS prev_role, LAG(created_at) OVER w AS prev_time
            FROM {table} WHERE session_id IN ({sub_sql})
            WINDOW w AS (PARTITION BY session_id ORDER BY seq)
        ) t
        WHERE role = %s AND prev_role = %s
        GROUP BY session_id
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, Role.COUNSELOR, Role.CLIENT])
        return cursor.fetchall()


def _spearman(x: list[float], y: list[float]) -> float | None:
    from scipy.stats import spearmanr

    if len(x) < 3:
        return None
    with warnings.catch_warnings():  # constant input gives nan, shown as "–"
        warnings.simplefilter("ignore")
        rho = spearmanr(x, y).statistic
    return None if rho is None or math.isnan(rho) else round(float(rho), 3)


def dataset_correlations(options: ExportOptions | None = None) -> dict:
    """Spearman correlations of dialogue features with the score and the 20 × 20 item matrix."""
    import numpy as np
    from scipy.stats import spearmanr

    fb = export_feedback_queryset(options or ExportOptions())
    key = _cache_key("corr", options)
    cached = cache.get(key)
    if cached is not None:
        return cached
    scores = dict(fb.values_list("session_id", "total"))
    feats = _dialogue_features(fb)
    features = []
    for name in FEATURES:
        pairs = [(f[name], scores[sid]) for sid, f in feats.items() if f[name] is not None and sid in scores]
        features.append({"key": name, "n": len(pairs), "rho": _spearman([p[0] for p in pairs], [p[1] for p in pairs])})
    matrix = np.array(list(fb.values_list(*ITEM_FIELDS)), dtype=float)
    items: list[list[float | None]] = []
    if len(matrix) >= 3:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rho = np.atleast_2d(spearmanr(matrix).statistic)
        items = [[None if math.isnan(v) else round(float(v), 3) for v in row] for row in rho]
    result = {"features": features, "item_matrix": items, "item_labels": [i.jp for i in ITEMS]}
    cache.set(key, result, CACHE_SECONDS)
    return result


def _cache_key(prefix: str, options: ExportOptions | None) -> str:
    """Changes whenever feedback or messages are added, so the cache never serves stale figures."""
    state = Feedback.objects.aggregate(n=Count("pk"), m=Max("pk"))
    last_msg = Message.objects.aggregate(m=Max("pk"))["m"]
    params = sorted((options or ExportOptions()).as_params().items())
    return f"dataset:{prefix}:{state['n']}:{state['m']}:{last_msg}:{hash(str(params))}"
