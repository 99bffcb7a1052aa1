"""Japanese word-level helpers shared by the retrieval partner and the arena's metrics (MeCab through fugashi
with the unidic-lite dictionary)."""

from __future__ import annotations

import functools

CONTENT_POS = ("名詞", "動詞", "形容詞")


@functools.lru_cache(maxsize=1)
def tagger():
    import fugashi

    return fugashi.Tagger()  # unidic-lite dictionary


def content_word_list(text: str) -> list[str]:
    """Lemmas of nouns, verbs and adjectives in order (non-independent verbs such as いる/ある as auxiliaries
    and numerals dropped). A module-level function, so a scikit-learn vectorizer using it can be pickled."""
    words = []
    for w in tagger()(text):
        f = w.feature
        if f.pos1 not in CONTENT_POS or f.pos2 == "非自立可能" or f.pos2 == "数詞":
            continue
        words.append(f.lemma or w.surface)
    return words


def content_words(text: str) -> set[str]:
    return set(content_word_list(text))
