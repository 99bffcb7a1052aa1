"""The fast featurizer: a dense matrix the ridge can solve with BLAS in seconds.

Per text block (the client's text, the counselor's text, the client's last utterances) a character
1–3-gram TF-IDF (``ngrams.CharNgramTfidf``); its ``dense_per_block`` most frequent n-grams keep
their own column, the rest of the vocabulary is folded into ``sketch_per_block`` signed hash
buckets (a count sketch: inner products are preserved in expectation). Then the scaled dialogue
statistics and, only when ``use_ids`` is set (research), one-hot client and counselor ids.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from .features import SMALL_CORPUS, FeatureConfig, _client_tail, _role_text, dialogue_stats
from .ngrams import CharNgramTfidf
from .records import LabelledDialogue

BLOCKS = ("client", "counselor", "tail")


def _block_texts(records: list[LabelledDialogue], block: str, tail: int) -> list[str]:
    if block == "tail":
        return [_client_tail(r, tail) for r in records]
    return [_role_text(r, block) for r in records]


class _Block:
    """One text block: exact columns for the frequent n-grams, a signed sketch for the rest."""

    def __init__(self, vectorizer: CharNgramTfidf, dense: int, sketch: int, weight: float, seed: int) -> None:
        self.vectorizer = vectorizer
        v = vectorizer.n_features
        rank = np.empty(v, dtype=np.int64)
        rank[np.argsort(-vectorizer.tf_, kind="stable")] = np.arange(v)
        rng = np.random.RandomState(seed)
        exact = rank < dense
        self.width = int(min(dense, v) + (sketch if (~exact).any() else 0))
        self.column = np.where(exact, rank, min(dense, v) + rng.randint(0, max(sketch, 1), size=v)).astype(np.int64)
        self.sign = np.where(exact, 1.0, rng.choice((-1.0, 1.0), size=v)).astype(np.float32) * weight

    def transform(self, texts: list[str]) -> np.ndarray:
        m = self.vectorizer.transform(texts)
        folded = sparse.csr_matrix(
            (m.data * self.sign[m.indices], self.column[m.indices], m.indptr), shape=(m.shape[0], self.width)
        )
        folded.sum_duplicates()
        return folded.toarray()


class DenseFeaturizer:
    """Fit on training records only (vocabularies, id categories, scaling); ``transform`` is dense."""

    def __init__(self, config: FeatureConfig | None = None) -> None:
        self.config = config or FeatureConfig()

    def fit(self, records: list[LabelledDialogue]) -> DenseFeaturizer:
        c = self.config
        min_df = c.min_df if len(records) >= SMALL_CORPUS else 1
        limits = {"client": c.max_features_client, "counselor": c.max_features_counselor, "tail": c.max_features_tail}
        weights = {"client": c.w_client, "counselor": c.w_counselor, "tail": c.w_tail}
        self.blocks = {}
        for k, name in enumerate(BLOCKS):
            if not weights[name]:
                continue
            vec = CharNgramTfidf(n_min=c.ngram_min, n_max=c.ngram_max, min_df=min_df, max_features=limits[name])
            vec.fit(_block_texts(records, name, c.tail_utterances))
            self.blocks[name] = _Block(vec, c.dense_per_block, c.sketch_per_block, weights[name], seed=k)
        self.scaler = StandardScaler().fit(np.array([dialogue_stats(r) for r in records]))
        if c.use_ids:
            ids = np.array([[r.client_key or "?", r.counselor_key or "?"] for r in records], dtype=object)
            self.ids = OneHotEncoder(handle_unknown="ignore", min_frequency=c.id_min_count).fit(ids)
        return self

    def feature_names(self) -> list[str]:
        """One name per column (``client:…``, ``stats:…``, ``client_id:…``), for inspection and tests."""
        names = []
        for name, block in self.blocks.items():
            names += [f"{name}:{j}" for j in range(block.width)]
        names += [f"stats:{j}" for j in range(len(self.scaler.mean_))]
        if self.config.use_ids:
            names += [str(n) for n in self.ids.get_feature_names_out(["client_id", "counselor_id"])]
        return names

    def transform(self, records: list[LabelledDialogue]) -> np.ndarray:
        c = self.config
        parts = [b.transform(_block_texts(records, n, c.tail_utterances)) for n, b in self.blocks.items()]
        stats = np.array([dialogue_stats(r) for r in records]).reshape(len(records), -1)
        parts.append((c.w_stats * self.scaler.transform(stats)).astype(np.float32))
        if c.use_ids:
            ids = np.array([[r.client_key or "?", r.counselor_key or "?"] for r in records], dtype=object)
            parts.append((c.w_ids * self.ids.transform(ids)).toarray().astype(np.float32))
        return np.hstack(parts).astype(np.float32, copy=False)
