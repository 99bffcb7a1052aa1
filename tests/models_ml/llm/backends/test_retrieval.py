import pytest

from models_ml.llm.backends import ERR_BACKEND_CONFIG, BackendConfigError, ModelNotFoundError, get_backend
from models_ml.llm.backends.retrieval import ERR_NO_HIGH_SCORED, RetrievalBackend


def dialogue(score, pairs, opening="こんにちは、今日はどうされましたか。"):
    turns = [{"role": "counselor", "time": "t", "utterance": opening}]
    for client, counselor in pairs:
        turns += [
            {"role": "client", "time": "t", "utterance": client},
            {"role": "counselor", "time": "t", "utterance": counselor},
        ]
    return {"dialogue": turns, "score": score, "items": [3] * 20}


@pytest.fixture
def records():
    return [
        dialogue(
            85,
            [
                ("仕事で上司に毎日怒られてつらいです。", "毎日怒られるのは本当につらいですね。"),
                ("もう会社に行きたくないです。", "行きたくないと感じるほど追い詰められているのですね。"),
            ],
        ),
        dialogue(
            90,
            [("猫が病気になってしまって心配です。", "大切な猫ちゃんが病気だと心配ですよね。")],
            opening="こんばんは、ようこそ。",
        ),
        # Scored 99-100 (test set) and below 70: never used as answers.
        dialogue(100, [("仕事で上司に毎日怒られてつらいです。", "テスト用の対話の返答です。")]),
        dialogue(40, [("猫が病気になってしまって心配です。", "低評価の対話の返答です。")]),
    ]


def test_answers_with_the_reply_after_the_most_similar_context(records):
    backend = get_backend({"backend": "retrieval", "records": records})
    reply = backend.generate([{"role": "user", "content": "うちの猫が病気で心配なんです。"}])
    assert reply == "大切な猫ちゃんが病気だと心配ですよね。"
    reply = backend.generate([{"role": "user", "content": "上司に怒られてばかりでつらい。"}])
    assert reply == "毎日怒られるのは本当につらいですね。"


def test_only_high_scored_70_to_98_dialogues_are_indexed(records):
    backend = RetrievalBackend.from_records(records)
    assert "テスト用の対話の返答です。" not in backend.replies
    assert "低評価の対話の返答です。" not in backend.replies
    assert len(backend.replies) == 3


def test_does_not_repeat_a_reply_already_given(records):
    backend = RetrievalBackend.from_records(records)
    messages = [
        {"role": "user", "content": "上司に怒られてばかりでつらい。"},
        {"role": "assistant", "content": "毎日怒られるのは本当につらいですね。"},
        {"role": "user", "content": "上司に怒られてばかりでつらい。"},
    ]
    assert backend.generate(messages) != "毎日怒られるのは本当につらいですね。"


def test_opens_the_conversation_when_there_is_no_context(records):
    backend = RetrievalBackend.from_records(records)
    assert backend.generate([{"role": "system", "content": "sys"}]) == "こんにちは、今日はどうされましたか。"


def test_streams_in_small_chunks(records):
    backend = RetrievalBackend.from_records(records, chunk_chars=3)
    messages = [{"role": "user", "content": "猫が病気です"}]
    chunks = list(backend.stream(messages))
    assert len(chunks) > 3 and all(len(c) <= 3 for c in chunks)
    assert "".join(chunks) == backend.best_reply(messages)


def test_client_role_index_answers_as_the_client(records):
    backend = RetrievalBackend.from_records(records, role="client")
    reply = backend.generate([{"role": "user", "content": "毎日怒られるのは、本当につらいことですね。"}])
    assert reply == "もう会社に行きたくないです。"
    assert set(backend.replies) <= {
        "仕事で上司に毎日怒られてつらいです。",
        "もう会社に行きたくないです。",
        "猫が病気になってしまって心配です。",
    }


def test_index_survives_save_and_load(records, tmp_path):
    backend = RetrievalBackend.from_records(records)
    path = backend.save(tmp_path / "index.joblib")
    loaded = get_backend({"backend": "retrieval", "index_path": str(path)})
    messages = [{"role": "user", "content": "うちの猫が病気で心配なんです。"}]
    assert loaded.generate(messages) == backend.generate(messages)


def test_missing_index_file_is_a_clear_error(tmp_path):
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        get_backend({"backend": "retrieval", "index_path": str(tmp_path / "none.joblib")})


def test_no_high_scored_dialogue_is_a_clear_error(records):
    with pytest.raises(BackendConfigError, match=ERR_NO_HIGH_SCORED):
        RetrievalBackend.from_records([records[2], records[3]])


def test_retrieval_is_the_default_backend_and_needs_data():
    with pytest.raises(BackendConfigError) as exc:
        get_backend({})
    assert str(exc.value) == ERR_BACKEND_CONFIG.format(backend="retrieval", needed="index_path or records")
