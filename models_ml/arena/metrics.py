"""Pure metric functions (no ORM): generation metrics (BLEU / ROUGE / Distinct-n), online Elo (reference only), battle matrices,
judge agreement, and client fidelity (role-card vocabulary overlap).

Tokenisation is stated with every figure: ``word`` = MeCab through fugashi with unidic-lite (surface forms),
``char`` = characters (whitespace dropped)."""

from __future__ import annotations

import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from models_ml.llm.text import content_words, tagger

TOKENIZATIONS = ("word", "char")
_WS = re.compile(r"\s+")


def word_tokens(text: str) -> list[str]:
    return [w.surface for w in tagger()(_WS.sub(" ", text).strip()) if w.surface.strip()]


def char_tokens(text: str) -> list[str]:
    return list(_WS.sub("", text))


def tokenize(text: str, mode: str) -> list[str]:
    if mode == "word":
        return word_tokens(text)
    if mode == "char":
        return char_tokens(text)
    raise ValueError(f"unknown tokenisation {mode!r}")


# --- generation metrics ------------------------------------------------------------------------------


class _Tok:
    def __init__(self, mode: str) -> None:
        self.mode = mode

    def tokenize(self, text: str) -> list[str]:
        return tokenize(text, self.mode)


def bleu(hypotheses: Sequence[str], references: Sequence[str], *, n: int, mode: str) -> float:
    """Corpus BLEU-n (0–100) with sacrebleu on pre-tokenised text (tokenize="none", uniform weights 1/n)."""
    from sacrebleu.metrics import BLEU

    hyps = [" ".join(tokenize(h, mode)) for h in hypotheses]
    refs = [" ".join(tokenize(r, mode)) for r in references]
    return float(BLEU(tokenize="none", max_ngram_order=n).corpus_score(hyps, [refs]).score)


def rouge(hypotheses: Sequence[str], references: Sequence[str], *, mode: str) -> dict[str, float]:
    """Mean ROUGE-1/2/L F1 (0–100) with rouge-score and a Japanese tokenizer."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], tokenizer=_Tok(mode))
    sums = {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    for hyp, ref in zip(hypotheses, references, strict=True):
        scores = scorer.score(ref, hyp)  # (target, prediction)
        for key in sums:
            sums[key] += scores[key].fmeasure
    count = max(1, len(hypotheses))
    return {key: 100 * value / count for key, value in sums.items()}


def distinct_n(texts: Iterable[str], *, n: int, mode: str) -> float:
    """Distinct n-grams / total n-grams over all texts (0–1); 0 when there is no n-gram."""
    seen: set[tuple[str, ...]] = set()
    total = 0
    for text in texts:
        tokens = tokenize(text, mode)
        grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
        total += len(grams)
        seen.update(grams)
    return len(seen) / total if total else 0.0


def generation_metrics(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, dict[str, float]]:
    """All KokoroChat metrics, once per tokenisation: ``{"word": {...}, "char": {...}}``."""
    out: dict[str, dict[str, float]] = {}
    for mode in TOKENIZATIONS:
        row = {f"bleu{n}": bleu(hypotheses, references, n=n, mode=mode) for n in (1, 2, 3, 4)}
        row.update(rouge(hypotheses, references, mode=mode))
        row.update({f"distinct{n}": distinct_n(hypotheses, n=n, mode=mode) for n in (1, 2)})
        out[mode] = row
    return out


# --- online Elo (order-dependent; kept for reference, the leaderboards use ratings.bradley_terry) ---------------------------------------------------------------------------------------------

INITIAL_ELO = 1000.0
DEFAULT_K = 32.0


@dataclass(frozen=True)
class Battle:
    model_a: str
    model_b: str
    winner: str  # "a" | "b" | "tie"
    judge: str = ""
    pair_key: str = ""


def expected(r_a: float, r_b: float) -> float:
    return 1.0 / (1.0 + 10 ** ((r_b - r_a) / 400.0))


def online_elo(battles: Iterable[Battle], *, k: float = DEFAULT_K, initial: float = INITIAL_ELO) -> dict[str, float]:
    """Online (sequential) Elo in the given order; a tie scores 0.5 for both. The result depends on the order
    of the battles: the leaderboards use the order-free ``ratings.bradley_terry`` instead."""
    ratings: dict[str, float] = defaultdict(lambda: initial)
    for b in battles:
        ra, rb = ratings[b.model_a], ratings[b.model_b]
        ea = expected(ra, rb)
        sa = {"a": 1.0, "b": 0.0, "tie": 0.5}[b.winner]
        ratings[b.model_a] = ra + k * (sa - ea)
        ratings[b.model_b] = rb + k * ((1 - sa) - (1 - ea))
    return dict(ratings)


def online_elo_bootstrap(
    battles: Sequence[Battle], *, k: float = DEFAULT_K, rounds: int = 200, seed: int = 0
) -> dict[str, tuple[float, float]]:
    """95 % percentile interval of each model's Elo over battles resampled with replacement."""
    if not battles:
        return {}
    rng = random.Random(seed)
    samples: dict[str, list[float]] = defaultdict(list)
    for _ in range(rounds):
        drawn = [battles[rng.randrange(len(battles))] for _ in battles]
        for model, rating in online_elo(drawn, k=k).items():
            samples[model].append(rating)
    out = {}
    for model, values in samples.items():
        values.sort()
        lo = values[int(0.025 * (len(values) - 1))]
        hi = values[int(round(0.975 * (len(values) - 1)))]
        out[model] = (lo, hi)
    return out


def battle_matrix(battles: Iterable[Battle]) -> tuple[list[str], list[list[int]]]:
    """Models (sorted) and the symmetric battle-count matrix."""
    counts: Counter[tuple[str, str]] = Counter()
    models: set[str] = set()
    for b in battles:
        models.update((b.model_a, b.model_b))
        counts[(b.model_a, b.model_b)] += 1
        if b.model_a != b.model_b:
            counts[(b.model_b, b.model_a)] += 1
    names = sorted(models)
    return names, [[counts[(r, c)] for c in names] for r in names]


def _model_winner(b: Battle) -> str:
    """The winner as a model name (order-free), or "tie"."""
    return {"a": b.model_a, "b": b.model_b}.get(b.winner, "tie")


def verdicts_by_judge(battles: Iterable[Battle]) -> dict[str, dict[str, str]]:
    """judge → pair_key → winning model (or "tie"); several verdicts of one judge on one pair (e.g. both
    presentation orders) count as one: the common winner, or "tie" when they disagree."""
    seen: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for b in battles:
        if b.pair_key:
            seen[b.judge][b.pair_key].add(_model_winner(b))
    return {
        judge: {key: (next(iter(ws)) if len(ws) == 1 else "tie") for key, ws in pairs.items()}
        for judge, pairs in seen.items()
    }


def agreement_matrix(battles: Iterable[Battle]) -> tuple[list[str], list[list[float | None]], list[list[int]]]:
    """Judges, agreement rate on the pairs both judged (None = no common pair), and the common-pair counts."""
    verdicts = verdicts_by_judge(battles)
    judges = sorted(verdicts)
    rates: list[list[float | None]] = []
    counts: list[list[int]] = []
    for j1 in judges:
        row_r, row_c = [], []
        for j2 in judges:
            common = set(verdicts[j1]) & set(verdicts[j2])
            same = sum(verdicts[j1][k] == verdicts[j2][k] for k in common)
            row_c.append(len(common))
            row_r.append(same / len(common) if common else None)
        rates.append(row_r)
        counts.append(row_c)
    return judges, rates, counts


def position_consistency(battles: Iterable[Battle]) -> dict[str, float]:
    """Per judge: the share of pairs judged in both orders whose verdicts agree (position-bias check)."""
    seen: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for b in battles:
        if b.pair_key:
            seen[b.judge][b.pair_key].append(_model_winner(b))
    out = {}
    for judge, pairs in seen.items():
        doubled = [ws for ws in pairs.values() if len(ws) >= 2]
        if doubled:
            out[judge] = sum(len(set(ws)) == 1 for ws in doubled) / len(doubled)
    return out


# --- client fidelity ---------------------------------------------------------------------------------


def overlap(card_words: set[str], utterance_words: set[str]) -> float:
    """Interactive Agents Eq. 1: |Set(V(S)) ∩ Set(V(P))| / |Set(V(P))| — the share of the role card's (user
    profile's) vocabulary that the client's utterances use. 0 for an empty card."""
    return len(card_words & utterance_words) / len(card_words) if card_words else 0.0


def fidelity_eq1(card_text: str, client_text: str) -> float:
    """Eq. 1 on texts; the vocabulary V(·) is the set of content-word lemmas (``llm.text.content_words``)."""
    return overlap(content_words(card_text), content_words(client_text))


def fidelity(pairs: Sequence[tuple[str, str]], cards: dict[str, str], *, seed: int = 0) -> dict[str, Any]:
    """``pairs`` = (card key, the client's utterances joined); ``cards`` = card key → card text.

    Matched = Eq. 1 with the session's own card; baseline = Eq. 1 with a randomly drawn *other* card (the
    Interactive Agents random pairing). Returns means and per-session values."""
    rng = random.Random(seed)
    card_words = {key: content_words(text) for key, text in cards.items()}
    matched, baseline = [], []
    for key, utterances in pairs:
        words = content_words(utterances)
        matched.append(overlap(card_words.get(key, set()), words))
        others = [k for k in card_words if k != key]
        if others:
            baseline.append(overlap(card_words[rng.choice(others)], words))
    mean = lambda xs: sum(xs) / len(xs) if xs else None  # noqa: E731
    return {
        "matched": mean(matched),
        "random": mean(baseline),
        "sessions": len(pairs),
        "per_session": matched,
    }
