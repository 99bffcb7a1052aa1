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


def greeting_records():
    """Three clients answer the very same greeting, each with a different problem."""
    greeting = "こんにちは、今日はどのようなご相談でしょうか。"
    problems = [
        "親の介護と仕事の両立がしんどくなってきました。",
        "友だちとの関係がうまくいかず、学校で孤立しています。",
        "職場の上司に毎日怒られて、会社に行くのがつらいです。",
    ]
    return [dialogue(80 + i, [(p, "そうだったのですね。")], opening=greeting) for i, p in enumerate(problems)]


@pytest.mark.parametrize(
    "persona, expected",
    [
        (
            "友人関係がうまくいかず孤立している 大学生 一人暮らし",
            "友だちとの関係がうまくいかず、学校で孤立しています。",
        ),
        ("母親の介護と仕事の両立に疲れている 自営業 母と同居", "親の介護と仕事の両立がしんどくなってきました。"),
        (
            "上司からの叱責がつらく会社に行けない 会社員 妻と二人暮らし",
            "職場の上司に毎日怒られて、会社に行くのがつらいです。",
        ),
    ],
)
def test_the_client_persona_picks_the_reply_about_its_own_problem(persona, expected):
    backend = RetrievalBackend.from_records(greeting_records(), role="client")
    greeting = [{"role": "user", "content": "こんにちは、今日はどのようなご相談でしょうか。"}]
    assert backend.generate(greeting, persona=persona) == expected


def test_without_a_persona_the_context_alone_decides(records):
    backend = RetrievalBackend.from_records(records, role="client")
    context = [{"role": "user", "content": "毎日怒られるのは、本当につらいことですね。"}]
    assert backend.generate(context, persona=None) == backend.generate(context) == "もう会社に行きたくないです。"


def test_the_persona_makes_the_client_follow_the_dialogue_of_a_similar_client():
    """Both dialogues open alike; only what each client says later tells them apart."""
    work = dialogue(
        85,
        [
            ("こんにちは、よろしくお願いします。", "よろしくお願いします。どうされましたか。"),
            ("上司に毎日怒られて、会社に行くのがつらいです。", "それはつらいですね。"),
        ],
    )
    friends = dialogue(
        86,
        [
            ("こんにちは、お願いします。", "よろしくお願いします。どうされましたか。"),
            ("友だちとの関係がうまくいかず、学校で孤立しています。", "それはつらいですね。"),
        ],
    )
    backend = RetrievalBackend.from_records([work, friends], role="client")
    persona = "友人関係がうまくいかず孤立している 大学生 一人暮らし"
    history = [{"role": "user", "content": "こんにちは、今日はどうされましたか。"}]
    first = backend.generate(history, persona=persona)
    assert first == "こんにちは、お願いします。"  # the friends client's greeting, though both greetings fit
    history += [
        {"role": "assistant", "content": first},
        {"role": "user", "content": "よろしくお願いします。どうされましたか。"},
    ]
    assert backend.generate(history, persona=persona) == "友だちとの関係がうまくいかず、学校で孤立しています。"
    assert (
        backend.generate(history, persona="上司に怒られ会社がつらい 会社員")
        == "上司に毎日怒られて、会社に行くのがつらいです。"
    )


def test_a_version_1_index_still_loads_and_answers_without_persona_support(records, tmp_path):
    import joblib

    backend = RetrievalBackend.from_records(records)
    data = {k: getattr(backend, k) for k in ("role", "context_turns", "vectorizer", "matrix", "replies", "openings")}
    joblib.dump({"version": 1, **data}, tmp_path / "v1.joblib")
    old = RetrievalBackend.load(tmp_path / "v1.joblib")
    context = [{"role": "user", "content": "うちの猫が病気で心配なんです。"}]
    assert old.profiles is None
    assert old.generate(context, persona="猫") == backend.generate(context) == "大切な猫ちゃんが病気だと心配ですよね。"


def test_speakers_without_any_content_word_still_give_an_index_that_ignores_personas():
    backend = RetrievalBackend.from_records([dialogue(80, [("はい。", "ええ。")])], role="client")
    assert backend.profiles is None
    assert backend.generate([{"role": "user", "content": "こんにちは"}], persona="介護 仕事") == "はい。"


def test_with_a_persona_replies_come_only_from_the_closest_dialogues(monkeypatch):
    monkeypatch.setattr(RetrievalBackend, "persona_dialogues", 1)
    work = dialogue(
        80,
        [("上司に毎日怒られて、会社に行くのがつらいです。", "それはつらいですね。")],
        opening="お仕事のことでお困りですか。",
    )
    care = dialogue(
        81, [("親の介護と仕事の両立がしんどくなってきました。", "大変ですね。")], opening="ご家族のことでしょうか。"
    )
    backend = RetrievalBackend.from_records([work, care], role="client")
    context = [{"role": "user", "content": "お仕事のことでお困りですか。"}]  # the workplace client's context
    assert backend.generate(context) == "上司に毎日怒られて、会社に行くのがつらいです。"
    caregiver = "母親の介護と仕事の両立に疲れている 自営業 母と同居"
    assert backend.generate(context, persona=caregiver) == "親の介護と仕事の両立がしんどくなってきました。"


def _answers(prompt: str, reply: str, score: int = 80) -> dict:
    return dialogue(score, [(reply, "そうなんですね。")], opening=prompt)


def test_a_reply_to_a_similar_question_is_preferred_and_older_indexes_still_load(tmp_path):
    """Re-ranking: among close contexts, the reply whose own question is most like the latest turn wins."""
    records = [
        _answers("お仕事はどのようなことをされていますか。", "事務の仕事をしています。"),
        _answers("ご家族はどなたと暮らしていますか。", "夫と娘と三人で暮らしています。"),
    ]
    backend = RetrievalBackend.from_records(records, role="client")
    assert backend.prompts == ["お仕事はどのようなことをされていますか。", "ご家族はどなたと暮らしていますか。"]
    # In characters this is closest to the work question; in content words (家族) to the family one.
    question = [{"role": "user", "content": "ご家族とはどのようにされていますか。"}]
    assert backend.generate(question) == "夫と娘と三人で暮らしています。"
    backend.prompt_weight = 0
    assert backend.generate(question) == "事務の仕事をしています。"  # what the context match alone picks
    import joblib

    backend.save(tmp_path / "v3.joblib")
    data = joblib.load(tmp_path / "v3.joblib")
    assert data["version"] == 3 and data["prompts"] == backend.prompts
    data.pop("prompts")
    joblib.dump({**data, "version": 2}, tmp_path / "v2.joblib")
    assert RetrievalBackend.load(tmp_path / "v2.joblib").prompts is None  # loads, without re-ranking


def test_a_reply_stating_an_age_outside_the_cards_decade_is_skipped():
    records = [
        _answers("年齢と性別を教えてください。", "38歳の女性です。"),
        _answers("年齢を教えていただけますか。", "50代の女性です。"),
    ]
    backend = RetrievalBackend.from_records(records, role="client")
    ask = [{"role": "user", "content": "年齢と性別を教えてください。"}]
    assert backend.generate(ask) == "38歳の女性です。"
    assert backend.generate(ask, persona_age=52) == "50代の女性です。"
    assert backend.generate(ask, persona_age=52, avoid=["50代の女性です。"]) == "38歳の女性です。"  # last resort
