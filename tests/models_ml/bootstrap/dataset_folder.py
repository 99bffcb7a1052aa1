"""A tiny folder in the published KokoroChat format, written by the tests (invented text, never the dataset).

Half the dialogues are warm (empathic counselor, relieved client, rated high: 70-98, so they are indexed
by the retrieval partner), half cold (rated low): enough for the scorer (at least 10 labelled sessions)
and for both retrieval indexes."""

from __future__ import annotations

import random
from pathlib import Path

from tests.dataset.conftest import make_dialogue, write_files
from tests.models_ml.scoring.scorer_samples import sample_messages

FIRST_ID = 910_001


def _items(warm: bool, rng: random.Random) -> tuple[int, ...]:
    base = 4 if warm else 1
    return tuple(max(0, min(5, base + rng.choice((-1, 0, 0, 1)))) for _ in range(20))


def write_dataset_folder(folder: Path, *, count: int = 24, seed: int = 3) -> Path:
    rng = random.Random(seed)
    files = {}
    for n in range(count):
        warm = n % 2 == 0
        lines = tuple(sample_messages(warm, rng, n=rng.randint(8, 14)))
        files[f"{n + 1}.json"] = make_dialogue(
            evaluation_id=FIRST_ID + n,
            client_id=5000 + n % 7,
            counselor_id=6000 + n % 5,
            items=_items(warm, rng),
            lines=lines,
            created_at=f"2024-06-{1 + n % 28:02d}T12:00:00",
            start=f"2024-06-{1 + n % 28:02d}T10:00:00",
        )
    return write_files(folder, files)
