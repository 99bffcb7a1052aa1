import importlib.util
import json
from pathlib import Path

import pytest

from models_ml.llm.backends.retrieval import RetrievalBackend
from tests.models_ml.llm.conftest import make_record

BENCH = Path(__file__).resolve().parents[2] / "bench" / "retrieval_index_bench.py"
_spec = importlib.util.spec_from_file_location("retrieval_index_bench", BENCH)
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)
main = _module.main


def test_builds_a_loadable_index_from_a_folder_of_dialogue_files(tmp_path, capsys):
    src = tmp_path / "dialogues"
    src.mkdir()
    for i, score in enumerate([80, 90, 100, 50]):
        (src / f"{i}.json").write_text(json.dumps(make_record(i, score), ensure_ascii=False), encoding="utf-8")
    summary = main(["--src", str(src), "--out", str(tmp_path / "index.joblib")])
    assert summary["dialogues"] == 4
    assert summary["indexed_replies"] == len(RetrievalBackend.load(tmp_path / "index.joblib").replies) > 0
    assert json.loads(capsys.readouterr().out)["role"] == "counselor"


def test_missing_source_folder_is_a_usage_error(tmp_path):
    with pytest.raises(SystemExit):
        main(["--src", str(tmp_path / "none"), "--out", str(tmp_path / "i.joblib")])
