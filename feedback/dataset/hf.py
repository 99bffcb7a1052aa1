"""The feature schema of the ``jsonl`` export for Hugging Face ``datasets``.

``datasets.load_dataset("json", data_files=..., features=dataset_features())`` loads the
export with every published value kept. Without ``features`` the loader infers types batch by
batch, and a screening column that is null throughout one batch and ``"チェックあり"`` in a
later one cannot be combined ("Couldn't cast array of type string to null"): the schema
declares screenings as nullable strings. The loader's JSON reader (pyarrow) turns every
``YYYY-MM-DDTHH:MM:SS`` string into a timestamp before any schema applies (read as a string it
would come back as ``YYYY-MM-DD HH:MM:SS``), so times are declared ``timestamp[s]``: naive Japan
local time, and ``value.isoformat()`` is the published string again. ``datasets`` is imported
only when this is called.
"""

from __future__ import annotations

from .schema import HEADER_JP, REVIEW_KEYS_EN, REVIEW_KEYS_JP, TOPIC_KEYS

N_HEADER = len(HEADER_JP)
N_ITEMS = 20
TIME = "timestamp[s]"


def review_types() -> list[str]:
    """Arrow type names of the 28 review values, in order: ids, score and items int64, the
    evaluation time timestamp[s], the 3 screenings (null or "チェックあり") string."""
    types = ["int64", TIME, "int64", "int64", "int64"]
    types += ["int64"] * N_ITEMS
    types += ["string"] * (len(REVIEW_KEYS_JP) - N_HEADER - N_ITEMS)
    return types


def dataset_features():
    from datasets import Features, List, Value

    types = review_types()
    return Features(
        {
            "dialogue": List({"role": Value("string"), "time": Value(TIME), "utterance": Value("string")}),
            "topic": {key: Value("string") for key in TOPIC_KEYS},
            "review_by_client_jp": {k: Value(t) for k, t in zip(REVIEW_KEYS_JP, types, strict=True)},
            "review_by_client_en": {k: Value(t) for k, t in zip(REVIEW_KEYS_EN, types, strict=True)},
        }
    )
