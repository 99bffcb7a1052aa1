"""CPU partner without a language model: answers with the turn that followed the most similar context in the
High-scored dialogues (score 70-98; 99-100 stay untouched as the response task's test set). Similarity is the
cosine of TF-IDF character n-grams over the last few turns."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..data import ROLE_CLIENT, ROLE_COUNSELOR, DialogueRecord, normalize_records
from .base import ERR_INDEX_NOT_FOUND, BackendConfigError, GenerationBackend, GenerationError, ModelNotFoundError

HIGH_SCORE_MIN, HIGH_SCORE_MAX = 70, 98
DEFAULT_CONTEXT_TURNS = 3
INDEX_VERSION = 1
ERR_NO_HIGH_SCORED = f"No dialogue scored {HIGH_SCORE_MIN}-{HIGH_SCORE_MAX} with a reply to index."
ERR_BAD_INDEX = "The file {path} is not a retrieval index of this version."
ERR_BAD_ROLE = "role must be 'counselor' or 'client'."


def _context_text(texts: list[str]) -> str:
    # The latest turn matters most: it is counted twice.
    return " ".join(texts) + (" " + texts[-1] if texts else "")


class RetrievalBackend(GenerationBackend):
    name = "retrieval"

    def __init__(
        self,
        vectorizer: Any,
        matrix: Any,
        replies: list[str],
        openings: list[str],
        *,
        role: str = ROLE_COUNSELOR,
        context_turns: int = DEFAULT_CONTEXT_TURNS,
        chunk_chars: int = 4,
        delay: float = 0.0,
    ) -> None:
        self.vectorizer = vectorizer
        self.matrix = matrix
        self.replies = replies
        self.openings = openings
        self.role = role
        self.context_turns = context_turns
        self.chunk_chars = max(1, chunk_chars)
        self.delay = delay

    @classmethod
    def from_records(
        cls,
        records: Iterable[dict[str, Any] | DialogueRecord],
        *,
        role: str = ROLE_COUNSELOR,
        context_turns: int = DEFAULT_CONTEXT_TURNS,
        **kwargs: Any,
    ) -> RetrievalBackend:
        """Index every ``role`` turn that answers the partner, keyed by the ``context_turns`` turns before it."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        if role not in (ROLE_COUNSELOR, ROLE_CLIENT):
            raise BackendConfigError(ERR_BAD_ROLE)
        contexts, replies, openings = [], [], []
        for rec in normalize_records(records):
            if rec.score is None or not HIGH_SCORE_MIN <= rec.score <= HIGH_SCORE_MAX:
                continue
            for i, turn in enumerate(rec.turns):
                if turn.role != role:
                    continue
                if i == 0:
                    openings.append(turn.text)
                    continue
                contexts.append(_context_text([t.text for t in rec.turns[max(0, i - context_turns) : i]]))
                replies.append(turn.text)
        if not replies:
            raise BackendConfigError(ERR_NO_HIGH_SCORED)
        vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True, min_df=1)
        matrix = vectorizer.fit_transform(contexts).tocsc()  # column access: a query touches few n-grams
        return cls(vectorizer, matrix, replies, openings, role=role, context_turns=context_turns, **kwargs)

    def save(self, path: str | Path) -> Path:
        import joblib

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(
            {
                "version": INDEX_VERSION,
                "role": self.role,
                "context_turns": self.context_turns,
                "vectorizer": self.vectorizer,
                "matrix": self.matrix,
                "replies": self.replies,
                "openings": self.openings,
            },
            path,
        )
        return path

    @classmethod
    def load(cls, path: str | Path, **kwargs: Any) -> RetrievalBackend:
        """Load an index written by :meth:`save` (a joblib pickle: only load files this application wrote)."""
        import joblib

        path = Path(path)
        if not path.is_file():
            raise ModelNotFoundError(ERR_INDEX_NOT_FOUND.format(path=path))
        data = joblib.load(path)
        if not isinstance(data, dict) or data.get("version") != INDEX_VERSION:
            raise GenerationError(ERR_BAD_INDEX.format(path=path))
        return cls(
            data["vectorizer"],
            data["matrix"],
            data["replies"],
            data["openings"],
            role=data["role"],
            context_turns=data["context_turns"],
            **kwargs,
        )

    def best_reply(self, messages: list[dict[str, str]]) -> str:
        turns = [m for m in messages if m.get("role") in ("user", "assistant") and m.get("content", "").strip()]
        said = {m["content"].strip() for m in turns if m["role"] == "assistant"}
        if not turns:
            fresh = [o for o in self.openings if o not in said]
            return (fresh or self.openings or self.replies)[0]
        import numpy as np

        query = self.vectorizer.transform([_context_text([m["content"] for m in turns[-self.context_turns :]])])
        # Cosine similarity (rows are L2-normalised) computed on the query's n-gram columns only.
        scores = np.asarray(self.matrix[:, query.indices] @ query.data).ravel()
        top = min(len(scores), 8 * (len(said) + 1))  # identical short replies recur in the index
        candidates = np.argpartition(-scores, top - 1)[:top]
        for index in candidates[np.argsort(-scores[candidates], kind="stable")]:
            if self.replies[index] not in said:  # do not repeat ourselves
                return self.replies[index]
        return self.replies[int(scores.argmax())]

    def stream(self, messages: list[dict[str, str]], **params: Any) -> Iterator[str]:
        reply = self.best_reply(messages)
        delay = params.get("delay", self.delay)
        for start in range(0, len(reply), self.chunk_chars):
            if delay and start:
                time.sleep(delay)
            yield reply[start : start + self.chunk_chars]
