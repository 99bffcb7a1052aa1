"""Features of a dialogue for the CPU scorer: text n-grams per role, participant ids, statistics."""

from __future__ import annotations

import math
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from functools import partial

import numpy as np
from scipy import sparse
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from .ngrams import CharNgramTfidf
from .records import LabelledDialogue

QUESTION_RE = re.compile(r"[?？]|ですか|ますか|でしょうか")
SMALL_CORPUS = 100
THANKS_RE = re.compile(r"ありがと|感謝|助かり|楽にな|すっきり|スッキリ|よかった|良かった")


@dataclass
class FeatureConfig:
    ngram_min: int = 1
    ngram_max: int = 3
    max_features_client: int = 40000
    max_features_counselor: int = 40000
    max_features_tail: int = 15000
    min_df: int = 3
    tail_utterances: int = 6  # the client's last utterances get their own vocabulary
    # Participant ids (one-hot client and counselor): research only. The product predicts the
    # session from its text, not the person (issue 18); `train_scorer --with-ids` turns them on.
    use_ids: bool = False
    id_min_count: int = 1
    # Relative weights of the feature blocks (the ridge penalty is shared).
    w_client: float = 1.0
    w_counselor: float = 1.0
    w_tail: float = 1.0
    w_ids: float = 1.0
    w_stats: float = 0.3
    # From raw ridge output to an integer 0-5: "round" (plain rounding), "offsets" (a per-item offset
    # tuned on validation, the first version) or "cuts" (five per-item cut points tuned on validation).
    # On the published data the tuned variants over-fit the 10 % validation split (docs/benchmarks.md).
    decoding: str = "round"
    # Screening flags: "ridge" (three more right-hand sides of the items' ridge solve, Platt-scaled;
    # no extra pass over the n-grams) or "logistic" (one liblinear classifier per flag, the first version).
    screening: str = "ridge"

    def as_dict(self) -> dict:
        return asdict(self)


def _role_text(d: LabelledDialogue, role: str) -> str:
    return "\n".join(m.text for m in d.messages if m.role == role)


def _client_tail(d: LabelledDialogue, k: int) -> str:
    return "\n".join([m.text for m in d.messages if m.role == "client"][-k:])


def dialogue_stats(d: LabelledDialogue) -> list[float]:
    msgs = d.messages
    n = len(msgs)
    by_role = {
        "client": [m for m in msgs if m.role == "client"],
        "counselor": [m for m in msgs if m.role == "counselor"],
    }
    out: list[float] = [math.log1p(n)]
    for role in ("client", "counselor"):
        ms = by_role[role]
        lens = [len(m.text) for m in ms] or [0]
        out += [
            math.log1p(len(ms)),
            len(ms) / n if n else 0.0,
            math.log1p(sum(lens)),
            math.log1p(float(np.mean(lens))),
            sum(bool(QUESTION_RE.search(m.text)) for m in ms) / max(len(ms), 1),
        ]
    times = [m.time for m in msgs if m.time is not None]
    duration = (times[-1] - times[0]).total_seconds() / 60 if len(times) >= 2 else 0.0
    out.append(math.log1p(max(duration, 0.0)))
    # Response latency per role (seconds, log), when timestamps exist.
    for role in ("client", "counselor"):
        gaps = [
            (b.time - a.time).total_seconds()
            for a, b in zip(msgs, msgs[1:], strict=False)
            if b.role == role and a.role != role and a.time and b.time
        ]
        out.append(math.log1p(max(float(np.median(gaps)), 0.0)) if gaps else 0.0)
    tail = [m.text for m in by_role["client"]][-3:]
    out.append(float(sum(bool(THANKS_RE.search(t)) for t in tail)))
    out.append(1.0 if msgs and msgs[-1].role == "client" else 0.0)
    return out


THREADED_MIN_RECORDS = 200  # from this many sessions the three text blocks are cut in parallel


def _per_block(jobs: dict, n_records: int) -> dict:
    """Run the text blocks' vectorisers in two threads: their numpy sorts and searches release the
    GIL, so on two cores the wall time is about the longest block's (the result is the same).
    Below ``THREADED_MIN_RECORDS`` (scoring one session, tests) they run in turn."""
    if n_records < THREADED_MIN_RECORDS:
        return {name: job() for name, job in jobs.items()}
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(job) for name, job in jobs.items()}
        return {name: f.result() for name, f in futures.items()}


class DialogueFeaturizer:
    """Fit on training records only (vocabularies, id categories, scaling)."""

    def __init__(self, config: FeatureConfig | None = None) -> None:
        self.config = config or FeatureConfig()

    def _vec(self, max_features: int, n_docs: int) -> CharNgramTfidf:
        c = self.config
        # Small training sets (tests, a young platform) keep every n-gram.
        min_df = c.min_df if n_docs >= SMALL_CORPUS else 1
        return CharNgramTfidf(n_min=c.ngram_min, n_max=c.ngram_max, min_df=min_df, max_features=max_features)

    def _ids(self, records: list[LabelledDialogue]) -> np.ndarray:
        return np.array([[r.client_key or "?", r.counselor_key or "?"] for r in records], dtype=object)

    def _texts(self, records: list[LabelledDialogue]) -> dict[str, list[str]]:
        c = self.config
        return {
            "client": [_role_text(r, "client") for r in records],
            "counselor": [_role_text(r, "counselor") for r in records],
            "tail": [_client_tail(r, c.tail_utterances) for r in records],
        }

    def _fit(self, records: list[LabelledDialogue]) -> dict:
        c = self.config
        n = len(records)
        texts = self._texts(records)
        self.v_client = self._vec(c.max_features_client, n)
        self.v_counselor = self._vec(c.max_features_counselor, n)
        self.v_tail = self._vec(c.max_features_tail, n)
        blocks = _per_block(
            {
                "client": lambda: self.v_client.fit_transform(texts["client"]),
                "counselor": lambda: self.v_counselor.fit_transform(texts["counselor"]),
                "tail": lambda: self.v_tail.fit_transform(texts["tail"]),
            },
            n,
        )
        self.ids = OneHotEncoder(handle_unknown="ignore", min_frequency=c.id_min_count).fit(self._ids(records))
        stats = np.array([dialogue_stats(r) for r in records])
        self.scaler = StandardScaler().fit(stats)
        return {**blocks, "stats": stats}

    def fit(self, records: list[LabelledDialogue]) -> DialogueFeaturizer:
        self._fit(records)
        return self

    def fit_transform(self, records: list[LabelledDialogue]) -> sparse.csr_matrix:
        parts = self._fit(records)
        return self._stack(records, parts["client"], parts["counselor"], parts["tail"], parts["stats"])

    def transform(self, records: list[LabelledDialogue]) -> sparse.csr_matrix:
        texts = self._texts(records)
        blocks = _per_block({k: partial(v.transform, texts[k]) for k, v in self._vectorizers().items()}, len(records))
        return self._stack(
            records,
            blocks["client"],
            blocks["counselor"],
            blocks["tail"],
            np.array([dialogue_stats(r) for r in records]).reshape(len(records), -1),
        )

    def _vectorizers(self) -> dict[str, CharNgramTfidf]:
        return {"client": self.v_client, "counselor": self.v_counselor, "tail": self.v_tail}

    def _stack(self, records, client, counselor, tail, stats) -> sparse.csr_matrix:
        c = self.config
        blocks = [
            c.w_client * client,
            c.w_counselor * counselor,
            c.w_tail * tail,
            sparse.csr_matrix(c.w_stats * self.scaler.transform(stats)),
        ]
        if c.use_ids:
            blocks.append(c.w_ids * self.ids.transform(self._ids(records)))
        return sparse.hstack(blocks, format="csr", dtype=np.float32)

    def feature_names(self) -> list[str]:
        """One name per column: ``client:<n-gram>``, ``counselor:…``, ``tail:…``, ``stats:<k>`` and,
        only with ``use_ids``, ``client_id_<key>`` / ``counselor_id_<key>``."""
        names = []
        for prefix, vec in (("client", self.v_client), ("counselor", self.v_counselor), ("tail", self.v_tail)):
            names += [f"{prefix}:{_ngram_text(k)}" for k in vec.vocabulary_]
        names += [f"stats:{k}" for k in range(len(self.scaler.mean_))]
        if self.config.use_ids:
            names += [str(n) for n in self.ids.get_feature_names_out(["client_id", "counselor_id"])]
        return names


def _ngram_text(key) -> str:
    key, chars = int(key), []
    while key:
        chars.append(chr(key & ((1 << 21) - 1)))
        key >>= 21
    return "".join(reversed(chars))
