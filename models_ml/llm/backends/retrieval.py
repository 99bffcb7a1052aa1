"""CPU partner without a language model: answers with the turn that followed the most similar context in the
High-scored dialogues (score 70-98; 99-100 stay untouched as the response task's test set). Similarity is the
cosine of TF-IDF character n-grams over the last few turns.

A ``persona`` (the AI client's role card: chief complaint, occupation, family) is compared with everything the
speaker of each indexed dialogue said (word-level TF-IDF of content-word lemmas, MeCab through fugashi). Replies
then come only from the ``PERSONA_DIALOGUES`` closest dialogues, the closer ones preferred. The AI client thus
follows real clients whose stories resemble its card, greeting and all, and reveals its problem in their order,
instead of borrowing whatever problem followed the most similar greeting."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..data import ROLE_CLIENT, ROLE_COUNSELOR, DialogueRecord, normalize_records
from ..text import content_word_list, content_words
from .base import ERR_INDEX_NOT_FOUND, BackendConfigError, GenerationBackend, GenerationError, ModelNotFoundError

HIGH_SCORE_MIN, HIGH_SCORE_MAX = 70, 98
DEFAULT_CONTEXT_TURNS = 3
# 2 adds the per-dialogue speaker profiles for personas, 3 the partner turn each reply answered (re-ranking);
# versions 1 and 2 still load (without persona / without re-ranking).
INDEX_VERSION = 3
ERR_NO_HIGH_SCORED = f"No dialogue scored {HIGH_SCORE_MIN}-{HIGH_SCORE_MAX} with a reply to index."
ERR_BAD_INDEX = "The file {path} is not a retrieval index of this version."
ERR_BAD_ROLE = "role must be 'counselor' or 'client'."
PERSONA_DIALOGUES = 20  # with a persona, answer only from the dialogues whose speaker is most like it
PERSONA_WEIGHT = 0.5  # and prefer the closest of them (persona cosine added to the context cosine)
RERANK_POOL = 48  # the best candidates re-ranked by how alike the turn they answered is to the latest turn
PROMPT_WEIGHT = 1.0  # weight of that likeness (content-word Jaccard); 0 = no re-ranking


def _context_text(texts: list[str]) -> str:
    # The latest turn matters most: it is counted twice.
    return " ".join(texts) + (" " + texts[-1] if texts else "")


def _answered(turns: list[Any], i: int) -> str:
    """The partner's turn(s) right before turn ``i`` (consecutive messages of one speaker joined)."""
    start = i
    while start > 0 and turns[start - 1].role != turns[i].role:
        start -= 1
    return " ".join(t.text for t in turns[start:i])


def _profile_index(profiles: list[str]) -> tuple[Any, Any] | None:
    """Word-level TF-IDF (content-word lemmas) of each dialogue's speaker: what a persona is matched against.
    None when the speakers never used a content word (then personas are ignored)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(analyzer=content_word_list, sublinear_tf=True)
    try:
        return vectorizer, vectorizer.fit_transform(profiles)
    except ValueError:  # empty vocabulary
        return None


AGE_RE = re.compile(r"(\d{1,2})\s*(?:歳|才)|(\d)0\s*代")


def stated_decades(text: str) -> set[int]:
    """The decades of the ages stated in ``text`` (「38歳」 → 3, 「50代」 → 5)."""
    return {int(a) // 10 if a else int(d) for a, d in AGE_RE.findall(text)}


def _age_fits(reply: str, age: int | None) -> bool:
    """False when ``reply`` states an age and none of them is in the card's decade."""
    if not age:
        return True
    decades = stated_decades(reply)
    return not decades or int(age) // 10 in decades


def _int_array(values: Any) -> Any:
    import numpy as np

    return np.asarray(values, dtype=np.int64)


class RetrievalBackend(GenerationBackend):
    name = "retrieval"
    # Tunables (bench/practice_partner_bench.py sets them per variant; the defaults are the measured best).
    persona_dialogues = PERSONA_DIALOGUES
    persona_weight = PERSONA_WEIGHT
    rerank_pool = RERANK_POOL
    prompt_weight = PROMPT_WEIGHT
    age_filter = True  # skip replies that state an age outside the card's decade (``persona_age``)
    last_turn_boost = 0  # extra copies of the latest turn in the query (the index keys count it twice already)

    def __init__(
        self,
        vectorizer: Any,
        matrix: Any,
        replies: list[str],
        openings: list[str],
        *,
        owners: list[int] | None = None,
        profiles: Any = None,
        prompts: list[str] | None = None,
        role: str = ROLE_COUNSELOR,
        context_turns: int = DEFAULT_CONTEXT_TURNS,
        chunk_chars: int = 4,
        delay: float = 0.0,
    ) -> None:
        self.vectorizer = vectorizer
        self.matrix = matrix
        self.replies = replies
        self.openings = openings
        self.owners = None if owners is None else _int_array(owners)  # reply -> its dialogue (row of ``profiles``)
        # (vectorizer, matrix): one word-level TF-IDF row per dialogue, everything ``role`` said in it.
        self.profiles = profiles
        self.prompts = prompts  # reply -> the partner's turn(s) it answered (None: an index before version 3)
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
        contexts, replies, openings, owners, profiles, prompts = [], [], [], [], [], []
        for rec in normalize_records(records):
            if rec.score is None or not HIGH_SCORE_MIN <= rec.score <= HIGH_SCORE_MAX:
                continue
            indexed = len(replies)
            for i, turn in enumerate(rec.turns):
                if turn.role != role:
                    continue
                if i == 0:
                    openings.append(turn.text)
                    continue
                contexts.append(_context_text([t.text for t in rec.turns[max(0, i - context_turns) : i]]))
                replies.append(turn.text)
                prompts.append(_answered(rec.turns, i))
                owners.append(len(profiles))
            if len(replies) > indexed:
                profiles.append(" ".join(t.text for t in rec.turns if t.role == role))
        if not replies:
            raise BackendConfigError(ERR_NO_HIGH_SCORED)
        vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True, min_df=1)
        matrix = vectorizer.fit_transform(contexts).tocsc()  # column access: a query touches few n-grams
        return cls(
            vectorizer,
            matrix,
            replies,
            openings,
            owners=owners,
            profiles=_profile_index(profiles) if role == ROLE_CLIENT else None,  # personas are clients' only
            prompts=prompts,
            role=role,
            context_turns=context_turns,
            **kwargs,
        )

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
                "owners": self.owners,
                "profiles": self.profiles,
                "prompts": self.prompts,
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
        if not isinstance(data, dict) or data.get("version") not in (1, 2, INDEX_VERSION):
            raise GenerationError(ERR_BAD_INDEX.format(path=path))
        return cls(
            data["vectorizer"],
            data["matrix"],
            data["replies"],
            data["openings"],
            owners=data.get("owners"),
            profiles=data.get("profiles"),
            prompts=data.get("prompts"),
            role=data["role"],
            context_turns=data["context_turns"],
            **kwargs,
        )

    def memory_bytes(self) -> int:
        """The index's arrays and texts (an estimate for the per-process model cache)."""
        import sys

        total = 0
        profile_matrix = self.profiles[1] if self.profiles else None
        for matrix in (self.matrix, profile_matrix):
            for part in ("data", "indices", "indptr"):
                total += getattr(getattr(matrix, part, None), "nbytes", 0)
        total += getattr(self.owners, "nbytes", 0)
        total += sum(sys.getsizeof(text) for text in self.replies)
        total += sum(sys.getsizeof(text) for text in self.prompts or ())
        return total

    def best_reply(
        self,
        messages: list[dict[str, str]],
        *,
        persona: str | None = None,
        persona_age: int | None = None,
        avoid: Iterable[str] = (),
    ) -> str:
        """The indexed reply that followed the context most like ``messages``; never one already said by the
        assistant or listed in ``avoid``. ``persona`` / ``persona_age``: the AI client's card (see the module)."""
        turns = [m for m in messages if m.get("role") in ("user", "assistant") and m.get("content", "").strip()]
        said = {m["content"].strip() for m in turns if m["role"] == "assistant"} | {a.strip() for a in avoid}
        persona_age = persona_age if self.age_filter else None
        if not turns:
            fresh = [o for o in self.openings if o not in said and _age_fits(o, persona_age)]
            return (fresh or self.openings or self.replies)[0]
        import numpy as np

        texts = [m["content"] for m in turns[-self.context_turns :]]
        query = self.vectorizer.transform([_context_text(texts) + (" " + texts[-1]) * self.last_turn_boost])
        # Cosine similarity (rows are L2-normalised) computed on the query's n-gram columns only.
        scores = np.asarray(self.matrix[:, query.indices] @ query.data).ravel()
        if persona and persona.strip() and self.profiles is not None:
            scores = self._with_persona(scores, persona)
        if self.prompt_weight and self.prompts is not None and turns[-1]["role"] == "user":
            scores = self._reranked(scores, turns[-1]["content"])
        top = min(len(scores), 8 * (len(said) + 1))  # identical short replies recur in the index
        for pool in (top, len(scores)):  # the best few first; all of them when those were said already
            candidates = np.argpartition(-scores, pool - 1)[:pool]
            ranked = candidates[np.argsort(-scores[candidates], kind="stable")]
            fitting = [i for i in ranked if self.replies[i] not in said]  # do not repeat ourselves
            for index in fitting:
                if _age_fits(self.replies[index], persona_age):
                    return self.replies[index]
            if fitting and pool == len(scores):
                return self.replies[fitting[0]]
        return self.replies[int(scores.argmax())]

    def _reranked(self, scores: Any, latest: str) -> Any:
        """Add ``prompt_weight`` x the content-word Jaccard between the latest partner turn and the turn each of
        the ``rerank_pool`` best candidates answered: a reply to a similar question or remark ranks higher."""
        import numpy as np

        words = content_words(latest)
        if not words:
            return scores
        pool = min(len(scores), self.rerank_pool)
        best = np.argpartition(-scores, pool - 1)[:pool]
        scores = scores.copy()
        for index in best:
            theirs = content_words(self.prompts[index])
            if theirs:
                scores[index] += self.prompt_weight * len(words & theirs) / len(words | theirs)
        return scores

    def _with_persona(self, scores: Any, persona: str) -> Any:
        import numpy as np

        vectorizer, matrix = self.profiles
        per_dialogue = np.asarray((matrix @ vectorizer.transform([persona]).T).todense()).ravel()
        keep = np.zeros(len(per_dialogue), dtype=bool)
        k = min(self.persona_dialogues, len(per_dialogue))
        keep[np.argpartition(-per_dialogue, k - 1)[:k]] = True
        # Others sink below every kept reply (cosines are >= 0) but stay as a last resort.
        weight = self.persona_weight
        return np.where(keep[self.owners], scores + weight * per_dialogue[self.owners], scores - 10.0)

    def stream(self, messages: list[dict[str, str]], **params: Any) -> Iterator[str]:
        reply = self.best_reply(
            messages,
            persona=params.get("persona"),
            persona_age=params.get("persona_age"),
            avoid=params.get("avoid") or (),
        )
        delay = params.get("delay", self.delay)
        for start in range(0, len(reply), self.chunk_chars):
            if delay and start:
                time.sleep(delay)
            yield reply[start : start + self.chunk_chars]
