"""Reads of the arena app: histories, test turns, leaderboard, agreement, fidelity."""

from __future__ import annotations

import random
from typing import Any

from django.db.models import Count, Q, QuerySet

from models_ml.finetuning.models import RoleCard
from models_ml.llm.role_cards import TEXT_FIELDS
from roleplay.models import Message, Session, SessionSource

from . import metrics, ratings
from .models import ArenaBattle, JobStatus, JudgeKind, SimulatedSession, SimulationJob, WaiRating

TEST_SCORE_MIN, TEST_SCORE_MAX = 99, 100


def session_history(*, session_id: int) -> list[dict[str, str]]:
    rows = Message.objects.filter(session_id=session_id).order_by("seq").values_list("role", "text")
    return [{"role": role, "text": text} for role, text in rows]


def merge_turns(history: list[dict[str, str]]) -> list[dict[str, str]]:
    """Consecutive messages of one speaker become one turn (joined by a line break), as in KokoroChat."""
    merged: list[dict[str, str]] = []
    for turn in history:
        if merged and merged[-1]["role"] == turn["role"]:
            merged[-1] = {"role": turn["role"], "text": merged[-1]["text"] + "\n" + turn["text"]}
        else:
            merged.append(dict(turn))
    return merged


def role_card_text(card: RoleCard | None) -> str:
    if card is None:
        return ""
    core = card.to_core()
    parts = [
        *(getattr(core, field) for field in TEXT_FIELDS),
        *core.big_five.values(),
    ]
    return "\n".join(str(p) for p in parts if p)


# --- simulation --------------------------------------------------------------------------------------


def simulation_jobs() -> QuerySet[SimulationJob]:
    return SimulationJob.objects.select_related("client_version", "counselor_version", "created_by")


def simulation_items(job: SimulationJob) -> QuerySet[SimulatedSession]:
    return job.items.select_related("role_card", "session")


def job_fidelity(job: SimulationJob | None = None, *, seed: int = 0) -> dict[str, Any]:
    """Role-card vocabulary overlap of the client's utterances vs a random other card (all active cards)."""
    items = SimulatedSession.objects.filter(status=JobStatus.SUCCEEDED, session__isnull=False, role_card__isnull=False)
    if job is not None:
        items = items.filter(job=job)
    cards = {str(c.pk): role_card_text(c) for c in RoleCard.objects.all()}
    pairs = []
    for item in items.select_related("role_card"):
        texts = Message.objects.filter(session_id=item.session_id, role="client").values_list("text", flat=True)
        pairs.append((str(item.role_card_id), "\n".join(texts)))
    result = metrics.fidelity(pairs, cards, seed=seed)
    result.pop("per_session", None)
    return result


# --- histories for battles ---------------------------------------------------------------------------


def history_sources() -> QuerySet[Session]:
    """Simulated sessions and the test dialogues (score 99–100, never trained on)."""
    test = Q(feedback__total__gte=TEST_SCORE_MIN, feedback__total__lte=TEST_SCORE_MAX)
    return Session.objects.filter(Q(source=SessionSource.SIMULATED) | test).filter(last_seq__gte=2)


def sample_histories(*, n: int, rng: random.Random) -> list[tuple[int, list[dict[str, str]]]]:
    """``n`` histories ending with a client turn, drawn at random cut points (distinct while possible)."""
    cuts: list[tuple[int, int]] = []
    histories: dict[int, list[dict[str, str]]] = {}
    for session_id in history_sources().values_list("pk", flat=True).order_by("pk")[:2000]:
        turns = merge_turns(session_history(session_id=session_id))
        histories[session_id] = turns
        cuts += [(session_id, i + 1) for i, t in enumerate(turns) if t["role"] == "client"]
    if not cuts:
        return []
    rng.shuffle(cuts)
    chosen = [cuts[i % len(cuts)] for i in range(n)]
    return [(sid, histories[sid][:end]) for sid, end in chosen]


def human_pairs(limit: int) -> list[ArenaBattle]:
    seen: set[str] = set()
    out = []
    for b in ArenaBattle.objects.filter(judge_kind=JudgeKind.HUMAN).exclude(pair_key="").order_by("-created_at"):
        if b.pair_key not in seen:
            seen.add(b.pair_key)
            out.append(b)
            if len(out) >= limit:
                break
    return out


# --- evaluation --------------------------------------------------------------------------------------


def test_sessions() -> QuerySet[Session]:
    return Session.objects.filter(
        feedback__total__gte=TEST_SCORE_MIN, feedback__total__lte=TEST_SCORE_MAX, is_synthetic=False
    ).order_by("pk")


def test_turns(*, limit: int | None = None) -> list[tuple[int, list[dict[str, str]], str]]:
    """(session id, history, real counselor turn) for every counselor turn answering a client turn (merged)."""
    cases = []
    for session_id in test_sessions().values_list("pk", flat=True):
        turns = merge_turns(session_history(session_id=session_id))
        for i, turn in enumerate(turns):
            if turn["role"] == "counselor" and i > 0 and turns[i - 1]["role"] == "client":
                cases.append((session_id, turns[:i], turn["text"]))
                if limit is not None and len(cases) >= limit:
                    return cases
    return cases


# --- labelling ---------------------------------------------------------------------------------------


def sessions_to_label(
    *, kind: str, session_ids: list[int] | None, source: str, overwrite: bool, limit: int
) -> list[int]:
    qs = Session.objects.filter(last_seq__gte=1)
    if session_ids:
        qs = qs.filter(pk__in=session_ids)
    elif source and source != "all":
        qs = qs.filter(source=source)
    if not overwrite:
        qs = qs.filter(topic="") if kind == "topic" else qs.exclude(wai_ratings__isnull=False)
    return list(qs.order_by("pk").values_list("pk", flat=True)[: max(1, limit)])


def wai_summary() -> dict[str, Any]:
    rows = WaiRating.objects.values_list("goal", "task", "bond", "total")
    n = len(rows)
    if not n:
        return {"count": 0}
    return {"count": n, **{k: sum(r[i] for r in rows) / n for i, k in enumerate(("goal", "task", "bond", "total"))}}


# --- leaderboard -------------------------------------------------------------------------------------


def battles(*, judge_kind: str | None = None) -> list[metrics.Battle]:
    qs = ArenaBattle.objects.select_related("judge_user").order_by("created_at", "pk")
    if judge_kind:
        qs = qs.filter(judge_kind=judge_kind)
    return [
        metrics.Battle(model_a=b.model_a, model_b=b.model_b, winner=b.winner, judge=b.judge_label, pair_key=b.pair_key)
        for b in qs
    ]


BOARD_CACHE_S = 600


def leaderboard(*, judge_kind: str, rounds: int = ratings.DEFAULT_ROUNDS) -> dict[str, Any]:
    """One judge kind's Bradley-Terry board: both presentation orders of a pair by one judge = one battle. Cached
    (per process) until a battle of that kind is added or removed: the bootstrap takes a second or two."""
    from django.core.cache import cache
    from django.db.models import Max

    state = ArenaBattle.objects.filter(judge_kind=judge_kind).aggregate(n=Count("pk"), last=Max("pk"))
    key = f"arena:board:{judge_kind}:{state['n']}:{state['last']}:{rounds}"
    board = cache.get(key)
    if board is None:
        board = _leaderboard(judge_kind=judge_kind, rounds=rounds)
        cache.set(key, board, BOARD_CACHE_S)
    return board


def _leaderboard(*, judge_kind: str, rounds: int) -> dict[str, Any]:
    raw = battles(judge_kind=judge_kind)
    rows = ratings.collapse_orders(raw)
    names, matrix = metrics.battle_matrix(rows)
    return {
        "judge_kind": judge_kind,
        "table": ratings.leaderboard_rows(rows, rounds=rounds),
        "ratings": ratings.bradley_terry(rows),
        "battles": len(rows),
        "judgements": len(raw),
        "rounds": rounds,
        "matrix": {"models": names, "counts": matrix},
    }


def leaderboards(*, rounds: int = ratings.DEFAULT_ROUNDS) -> dict[str, Any]:
    """The human and the LLM-judge leaderboards (never mixed), their agreement, and per-judge agreement."""
    human = leaderboard(judge_kind=JudgeKind.HUMAN, rounds=rounds)
    llm = leaderboard(judge_kind=JudgeKind.LLM, rounds=rounds)
    everything = battles()
    judges, rates, counts = metrics.agreement_matrix(everything)
    return {
        "human": human,
        "llm": llm,
        "between": {
            "ranking": ratings.rank_agreement(human["ratings"], llm["ratings"]),
            "verdicts": ratings.verdict_agreement(
                battles(judge_kind=JudgeKind.HUMAN), battles(judge_kind=JudgeKind.LLM)
            ),
        },
        "agreement": {"judges": judges, "rates": rates, "counts": counts},
        "position_consistency": metrics.position_consistency(everything),
    }


def battle_counts() -> dict[str, int]:
    return dict(ArenaBattle.objects.values_list("judge_kind").annotate(n=Count("pk")).values_list("judge_kind", "n"))
