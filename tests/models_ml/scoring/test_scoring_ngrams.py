import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from models_ml.scoring.ngrams import CharNgramTfidf, ngram_keys

TEXTS = [
    "今日は  とても疲れました。\n眠れない日が続いています",
    "お気持ち、よくわかります。ABC abc",
    "",
    "眠れないのはつらいですね。今日は話してくださってありがとう",
    "a",
]


def _key(term: str) -> int:
    key = 0
    for ch in term:
        key = (key << 21) | ord(ch)
    return key


@pytest.mark.parametrize("min_df", [1, 2])
def test_char_tfidf_equals_scikit_learns_char_analyzer(min_df):
    ours = CharNgramTfidf(min_df=min_df).fit(TEXTS)
    ref = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=min_df, sublinear_tf=True).fit(TEXTS)
    assert ours.n_features == len(ref.vocabulary_)
    # Map scikit-learn's string columns to our integer keys, then compare value by value.
    order = np.searchsorted(ours.vocabulary_, [_key(term) for term in ref.get_feature_names_out()])
    a, b = ours.transform(TEXTS + ["未知の文字列"]).toarray(), ref.transform(TEXTS + ["未知の文字列"]).toarray()
    assert np.allclose(a[:, order], b, atol=1e-6)


def test_ngrams_never_span_two_documents():
    docs, keys = ngram_keys(["ab", "c"])
    bigram_bc = (ord("b") << 21) | ord("c")
    assert bigram_bc not in keys.tolist()
    assert sorted(docs.tolist()) == [0, 0, 0, 1]  # a, b, ab | c


def test_max_features_keeps_the_most_frequent_ngrams():
    vec = CharNgramTfidf(n_max=1, max_features=2).fit(["aaab", "aab", "c"])
    assert [chr(k) for k in vec.vocabulary_] == ["a", "b"]
