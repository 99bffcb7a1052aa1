"""Order-free arena ratings: Bradley-Terry maximum likelihood with bootstrap intervals (no ORM).

As Chatbot Arena computes them (FastChat ``fastchat/serve/monitor/elo_analysis.py``,
``compute_elo_mle_with_tie`` and ``get_bootstrap_result``): every battle is a logistic-regression row
``P(a beats b) = 1 / (1 + 10 ** ((R_b - R_a) / 400))``; a win counts as two wins and a tie as one win plus one
loss (a tie = half a win for each side); ratings are ``400 * coefficient`` around 1000. The fit only sees the
*counts* of outcomes per model pair, so the same battles in any order give exactly the same ratings, and the
bootstrap resamples those counts from a canonical order, so its intervals do not depend on the order either.

``l2`` is the ridge term of the logistic regression (``0.5 * l2 * |beta|^2``); the default 1.0 is scikit-learn's
default ``C = 1`` that the published Chatbot Arena notebook used. It matters only for tiny or one-sided
records, where the pure maximum-likelihood rating of a model that won (or lost) every battle is infinite;
``l2=0`` gives the plain MLE wherever it exists.

Both presentation orders of one pair judged by one judge are *one* battle (``collapse_orders``): a win when
both verdicts name the same model, otherwise a tie.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .metrics import Battle

SCALE = 400.0
BASE = 10.0
INIT_RATING = 1000.0
DEFAULT_L2 = 1.0
DEFAULT_ROUNDS = 1000


def _winner_model(b: Battle) -> str:
    return {"a": b.model_a, "b": b.model_b}.get(b.winner, "tie")


def collapse_orders(battles: Iterable[Battle]) -> list[Battle]:
    """One battle per (judge, pair): the verdicts of one judge on one pair (history + both replies, e.g. both
    presentation orders) become a single battle, won by the model all verdicts name, else a tie. Battles
    without a ``pair_key`` stay as they are. The result is in a canonical order."""
    groups: dict[tuple[str, str], list[Battle]] = defaultdict(list)
    single: list[Battle] = []
    for b in battles:
        if b.pair_key:
            groups[(b.judge, b.pair_key)].append(b)
        else:
            single.append(b)
    out = list(single)
    for (judge, key), members in groups.items():
        first = members[0]
        winners = {_winner_model(m) for m in members}
        winner_model = winners.pop() if len(winners) == 1 else "tie"
        winner = "a" if winner_model == first.model_a else "b" if winner_model == first.model_b else "tie"
        out.append(Battle(first.model_a, first.model_b, winner, judge=judge, pair_key=key))
    return canonical(out)


def canonical(battles: Iterable[Battle]) -> list[Battle]:
    """A fixed order of the battles (independent of the order given)."""
    return sorted(battles, key=lambda b: (b.model_a, b.model_b, b.winner, b.judge, b.pair_key))


@dataclass(frozen=True)
class _Counts:
    models: list[str]
    # (i, j, weight): model i "won" a duplicated row against j with this weight (a win = 2, a tie = 1 + 1)
    cells: list[tuple[int, int, float]]


def _counts(battles: Iterable[Battle]) -> _Counts:
    battles = list(battles)
    models = sorted({m for b in battles for m in (b.model_a, b.model_b)})
    index = {m: i for i, m in enumerate(models)}
    wins: dict[tuple[int, int], float] = defaultdict(float)
    for b in battles:
        if b.model_a == b.model_b:
            continue
        a, c = index[b.model_a], index[b.model_b]
        if b.winner == "a":
            wins[(a, c)] += 2.0
        elif b.winner == "b":
            wins[(c, a)] += 2.0
        else:  # tie: one win each
            wins[(a, c)] += 1.0
            wins[(c, a)] += 1.0
    return _Counts(models, [(i, j, w) for (i, j), w in sorted(wins.items())])


def _design(n_models: int, pairs: Sequence[tuple[int, int]]):
    """One row per (winner, loser) cell: +ln(10) for the winner, -ln(10) for the loser."""
    import numpy as np

    design = np.zeros((len(pairs), n_models))
    if pairs:
        rows = np.arange(len(pairs))
        design[rows, [p[0] for p in pairs]] = math.log(BASE)
        design[rows, [p[1] for p in pairs]] -= math.log(BASE)
    return design


def _newton(design, weights, l2: float, start=None):
    """Minimise sum(w * log(1 + exp(-X b))) + l2/2 |b|^2 by Newton's method with step halving (convex)."""
    import numpy as np

    n_models = design.shape[1]
    beta = np.zeros(n_models) if start is None else np.array(start, dtype=float)
    keep = weights > 0
    design, weights = design[keep], weights[keep]
    if not len(weights):
        return np.zeros(n_models)

    def loss(b):
        return float(np.sum(weights * np.logaddexp(0.0, -(design @ b)))) + 0.5 * l2 * float(b @ b)

    ridge = (l2 + 1e-9) * np.eye(n_models)
    current = loss(beta)
    for _ in range(100):
        p_lose = 1.0 / (1.0 + np.exp(design @ beta))
        grad = design.T @ (-weights * p_lose) + l2 * beta
        hess = (design * (weights * p_lose * (1 - p_lose))[:, None]).T @ design + ridge
        step = np.linalg.solve(hess, grad)
        t = 1.0
        while True:
            candidate = beta - t * step
            value = loss(candidate)
            if value <= current + 1e-12 or t < 1e-6:
                break
            t /= 2
        beta, previous, current = candidate, current, value
        if previous - current < 1e-10 and float(np.max(np.abs(t * step))) < 1e-7:
            break
    return beta


def _fit(n_models: int, cells: Sequence[tuple[int, int, float]], l2: float):
    """Coefficients (400-point units, mean 0) of the weighted, L2-penalised logistic regression."""
    import numpy as np

    if not n_models:
        return np.zeros(0)
    design = _design(n_models, [(c[0], c[1]) for c in cells])
    beta = _newton(design, np.array([c[2] for c in cells], dtype=float), l2)
    return beta - beta.mean()


def bradley_terry(battles: Iterable[Battle], *, l2: float = DEFAULT_L2) -> dict[str, float]:
    """Bradley-Terry ratings (Elo scale, mean 1000) of every model in ``battles``; ties count half."""
    counts = _counts(battles)
    beta = _fit(len(counts.models), counts.cells, l2)
    return {m: float(SCALE * beta[i] + INIT_RATING) for i, m in enumerate(counts.models)}


def bootstrap_intervals(
    battles: Sequence[Battle], *, rounds: int = DEFAULT_ROUNDS, seed: int = 0, l2: float = DEFAULT_L2
) -> dict[str, tuple[float, float]]:
    """95 % percentile intervals of the Bradley-Terry ratings over ``rounds`` resamples of the battles with
    replacement (Chatbot Arena's ``get_bootstrap_result``). The battles are counted per outcome in a canonical
    order and resampled as counts (multinomial), so any order of the same battles gives the same intervals. A
    model absent from a resample has no rating in that round."""
    import numpy as np

    battles = [b for b in battles if b.model_a != b.model_b]
    if not battles:
        return {}
    counts = _counts(battles)
    models = counts.models
    index = {m: i for i, m in enumerate(models)}
    kinds: dict[tuple[str, str, str], int] = defaultdict(int)
    for b in battles:
        kinds[(b.model_a, b.model_b, b.winner)] += 1
    keys = sorted(kinds)
    probs = np.array([kinds[k] for k in keys], dtype=float) / len(battles)
    # each outcome kind's contribution to the (winner, loser) cells of the duplicated rows
    pairs = sorted({(index[a], index[b]) for a, b, _w in keys} | {(index[b], index[a]) for a, b, _w in keys})
    cell_of = {p: i for i, p in enumerate(pairs)}
    contrib = np.zeros((len(keys), len(pairs)))
    involved = np.zeros((len(keys), len(models)), dtype=bool)
    for k, (a, b, w) in enumerate(keys):
        ia, ib = index[a], index[b]
        involved[k, [ia, ib]] = True
        if w == "a":
            contrib[k, cell_of[(ia, ib)]] = 2.0
        elif w == "b":
            contrib[k, cell_of[(ib, ia)]] = 2.0
        else:
            contrib[k, cell_of[(ia, ib)]] = contrib[k, cell_of[(ib, ia)]] = 1.0
    design = _design(len(models), pairs)
    counts_all = np.array([kinds[k] for k in keys], dtype=float)
    full = _newton(design, counts_all @ contrib, l2)  # warm start of every resample (same optimum)
    rng = np.random.default_rng(seed)
    samples = np.full((rounds, len(models)), np.nan)
    for r in range(rounds):
        drawn = rng.multinomial(len(battles), probs)
        present = (drawn[:, None] * involved).sum(axis=0) > 0
        beta = _newton(design, drawn @ contrib, l2, start=np.where(present, full, 0.0))
        beta = beta - beta[present].mean()
        samples[r, present] = SCALE * beta[present] + INIT_RATING
    out = {}
    for i, m in enumerate(models):
        column = samples[:, i][~np.isnan(samples[:, i])]
        if len(column):
            out[m] = (float(np.percentile(column, 2.5)), float(np.percentile(column, 97.5)))
    return out


def win_table(battles: Iterable[Battle]) -> dict[str, dict[str, float]]:
    """Per model: battles, wins, ties, losses (after any collapsing done by the caller)."""
    table: dict[str, dict[str, float]] = defaultdict(lambda: {"battles": 0, "wins": 0, "ties": 0, "losses": 0})
    for b in battles:
        for side, model in (("a", b.model_a), ("b", b.model_b)):
            row = table[model]
            row["battles"] += 1
            if b.winner == "tie":
                row["ties"] += 1
            elif b.winner == side:
                row["wins"] += 1
            else:
                row["losses"] += 1
    return dict(table)


def leaderboard_rows(
    battles: Sequence[Battle], *, rounds: int = DEFAULT_ROUNDS, seed: int = 0, l2: float = DEFAULT_L2
) -> list[dict]:
    """Rows sorted by rating: model, rating, 95 % interval, battles / wins / ties / losses."""
    ratings = bradley_terry(battles, l2=l2)
    intervals = bootstrap_intervals(battles, rounds=rounds, seed=seed, l2=l2) if rounds else {}
    counts = win_table(battles)
    rows = []
    for model, rating in sorted(ratings.items(), key=lambda kv: (-kv[1], kv[0])):
        low, high = intervals.get(model, (None, None))
        rows.append(
            {
                "model": model,
                "rating": round(rating, 1),
                "ci_low": None if low is None else round(low, 1),
                "ci_high": None if high is None else round(high, 1),
                **{k: int(v) for k, v in counts.get(model, {}).items()},
            }
        )
    return rows


def rank_agreement(first: dict[str, float], second: dict[str, float]) -> dict:
    """Kendall's tau between two leaderboards on their common models (None below 2 common models)."""
    common = sorted(set(first) & set(second))
    if len(common) < 2:
        return {"models": len(common), "kendall_tau": None}
    from scipy.stats import kendalltau

    tau = kendalltau([first[m] for m in common], [second[m] for m in common]).statistic
    return {"models": len(common), "kendall_tau": None if math.isnan(tau) else round(float(tau), 3)}


def verdict_agreement(first: Iterable[Battle], second: Iterable[Battle]) -> dict:
    """On the pairs (same history and replies) judged in both groups: the share on which the collapsed
    verdicts name the same model (or both a tie), and Cohen's kappa over the three outcomes."""

    def verdicts(battles: Iterable[Battle]) -> dict[str, str]:
        seen: dict[str, set[str]] = defaultdict(set)
        for b in collapse_orders(battles):
            if b.pair_key:
                seen[b.pair_key].add(_winner_model(b))
        return {k: (next(iter(v)) if len(v) == 1 else "tie") for k, v in seen.items()}

    one, two = verdicts(first), verdicts(second)
    common = sorted(set(one) & set(two))
    if not common:
        return {"pairs": 0, "agreement": None, "kappa": None}
    same = sum(one[k] == two[k] for k in common) / len(common)
    labels = sorted({one[k] for k in common} | {two[k] for k in common})
    expected = sum(
        (sum(one[k] == lab for k in common) / len(common)) * (sum(two[k] == lab for k in common) / len(common))
        for lab in labels
    )
    kappa = None if expected >= 1 else round((same - expected) / (1 - expected), 3)
    return {"pairs": len(common), "agreement": round(same, 3), "kappa": kappa}
