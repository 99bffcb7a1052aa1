"""Human arena and LLM judge end to end against the localhost server; leaderboard from the stored battles."""

from __future__ import annotations

import pytest

from models_ml.arena import selectors, services
from models_ml.arena.models import ArenaBattle, ArenaDialogue, JobStatus, JudgeJob

from .conftest import CLIENT_TEXT, MARKER

pytestmark = pytest.mark.django_db


@pytest.fixture
def arena(version, role_card, staff_user):
    good, plain, client = version("counselor-good"), version("counselor-plain"), version("client", kind="client")
    dialogue = services.arena_dialogue_create(
        role_card_id=role_card.pk, model_a_id=good.pk, model_b_id=plain.pk, client_version_id=client.pk
    )
    return dialogue, good, plain


@pytest.mark.parametrize("order", ["ab", "ba"])
def test_human_pick_is_mapped_back_to_the_model_and_the_dialogue_continues(arena, staff_user, order):
    dialogue, good, plain = arena
    assert dialogue.history == [{"role": "client", "text": CLIENT_TEXT}]
    dialogue.pending["order"] = order
    dialogue.save()
    position = "1" if order == "ab" else "2"  # where the good model's reply is shown
    battle = services.arena_dialogue_judge(
        dialogue=dialogue, position=position, token=dialogue.pending["token"], user=staff_user
    )
    assert battle.winner == "a" and battle.shown_order == order
    assert battle.model_a == f"counselor-good #{good.pk}" and battle.model_b == f"counselor-plain #{plain.pk}"
    assert MARKER in battle.reply_a and battle.judge_kind == "human" and battle.judge_user == staff_user
    dialogue.refresh_from_db()
    assert [t["role"] for t in dialogue.history] == ["client", "counselor", "client"]
    assert dialogue.history[1]["text"] == battle.reply_a
    assert dialogue.pending["token"] != battle.pair_key and set(dialogue.pending) >= {"a", "b", "order"}


def test_tie_keeps_the_reply_shown_first(arena, staff_user):
    dialogue, _good, _plain = arena
    dialogue.pending["order"] = "ba"
    dialogue.save()
    battle = services.arena_dialogue_judge(
        dialogue=dialogue, position="tie", token=dialogue.pending["token"], user=staff_user
    )
    dialogue.refresh_from_db()
    assert battle.winner == "tie" and dialogue.history[1]["text"] == battle.reply_b


@pytest.mark.parametrize(
    ("position", "token", "error"),
    [("3", None, services.ERR_BAD_POSITION), ("1", "old-token", services.ERR_STALE_PAIR)],
)
def test_bad_or_stale_pick_is_refused_and_nothing_saved(arena, staff_user, position, token, error):
    dialogue, _good, _plain = arena
    with pytest.raises(services.ArenaError) as exc:
        services.arena_dialogue_judge(
            dialogue=dialogue, position=position, token=token or dialogue.pending["token"], user=staff_user
        )
    assert str(exc.value) == str(error)
    assert not ArenaBattle.objects.exists()
    assert ArenaDialogue.objects.get(pk=dialogue.pk).history == dialogue.history


def test_same_model_twice_is_refused(version, role_card):
    good = version("counselor-good")
    expected = str(services.ERR_SAME_BACKEND % {"name": f"counselor-good #{good.pk}"})
    with pytest.raises(services.ArenaError) as exc:
        services.arena_dialogue_create(role_card_id=role_card.pk, model_a_id=good.pk, model_b_id=good.pk)
    assert str(exc.value) == expected and exc.value.code == "same_models"
    assert not ArenaDialogue.objects.exists()


def test_default_and_the_version_it_stands_for_are_the_same_model(version, role_card):
    """With one counselor version, "Default" is that version: A and B would give identical answers."""
    only = version("counselor-good")
    for a, b in ((None, only.pk), (only.pk, None), (None, None)):
        with pytest.raises(services.ArenaError) as exc:
            services.arena_dialogue_create(role_card_id=role_card.pk, model_a_id=a, model_b_id=b)
        assert exc.value.code == "same_models" and f"counselor-good #{only.pk}" in str(exc.value)
    choices = services.arena_counselor_choices()
    assert choices["ready"] is False and choices["initial"] == {}
    assert choices["reason"] == str(services.ERR_ONE_COUNSELOR % {"name": f"counselor-good #{only.pk}"})
    assert not ArenaDialogue.objects.exists()


def test_two_versions_make_the_arena_ready_with_different_defaults(version):
    good, plain = version("counselor-good"), version("counselor-plain")
    choices = services.arena_counselor_choices()
    # Default resolves to the newest active version; B defaults to the other one.
    assert choices["ready"] is True and choices["reason"] == ""
    assert {choices["initial"]["model_a"], choices["initial"]["model_b"]} in ({None, good.pk}, {None, plain.pk})
    a, b = choices["initial"]["model_a"], choices["initial"]["model_b"]
    va = None if a is None else services._check_version(a, "counselor")
    vb = None if b is None else services._check_version(b, "counselor")
    services.counselor_pair_check(va, vb)  # does not raise


def test_judge_job_refuses_the_same_model_twice(version, scored_sessions):
    only = version("counselor-good")
    with pytest.raises(services.ArenaError) as exc:
        services.judge_job_create(model_a_id=None, model_b_id=only.pk, n_battles=2)
    assert exc.value.code == "same_models"
    assert not JudgeJob.objects.exists()


def _judge_job(django_capture_on_commit_callbacks, **kwargs) -> JudgeJob:
    with django_capture_on_commit_callbacks(execute=True):
        job = services.judge_job_create(**kwargs)
    job.refresh_from_db()
    return job


def test_llm_judge_maps_randomised_order_back_to_the_models(
    version, scored_sessions, django_capture_on_commit_callbacks
):
    good, plain, judge = version("counselor-good"), version("counselor-plain"), version("judge-marker", kind="scorer")
    job = _judge_job(
        django_capture_on_commit_callbacks,
        judge_version_id=judge.pk,
        model_a_id=good.pk,
        model_b_id=plain.pk,
        n_battles=4,
        both_orders=True,
    )
    assert job.status == JobStatus.SUCCEEDED, job.error
    battles = list(job.battles.all())
    assert len(battles) == 8 and job.done == 4
    assert {b.shown_order for b in battles} == {"ab", "ba"}
    assert all(b.winner == "a" for b in battles)  # the judge always found the good reply, wherever it was shown
    assert all(b.judge_kind == "llm" and b.judge_model == f"judge-marker #{judge.pk}" for b in battles)
    assert all(b.history and b.history[-1]["role"] == "client" for b in battles)
    boards = selectors.leaderboards(rounds=20)
    board = boards["llm"]
    assert board["table"][0]["model"] == f"counselor-good #{good.pk}"
    assert board["table"][0]["rating"] > 1000 > board["table"][1]["rating"]
    # both orders of a pair agree: 8 judgements, 4 battles, all won by the good counselor
    assert (board["judgements"], board["battles"]) == (8, 4)
    assert board["matrix"]["counts"] == [[0, 4], [4, 0]]
    assert boards["human"]["table"] == []  # the LLM's verdicts never enter the human leaderboard
    assert boards["position_consistency"] == {f"llm:judge-marker #{judge.pk}": 1.0}


def test_position_biased_judge_is_exposed_by_both_orders(version, scored_sessions, django_capture_on_commit_callbacks):
    good, plain, judge = version("counselor-good"), version("counselor-plain"), version("judge-first", kind="scorer")
    job = _judge_job(
        django_capture_on_commit_callbacks,
        judge_version_id=judge.pk,
        model_a_id=good.pk,
        model_b_id=plain.pk,
        n_battles=3,
        both_orders=True,
    )
    winners = {(b.shown_order, b.winner) for b in job.battles.all()}
    assert winners == {("ab", "a"), ("ba", "b")}  # always the first shown
    boards = selectors.leaderboards(rounds=20)
    assert boards["position_consistency"] == {f"llm:judge-first #{judge.pk}": 0.0}
    # the two orders disagree on every pair: each pair is one tied battle, so neither model is ahead
    table = boards["llm"]["table"]
    assert [(r["battles"], r["ties"]) for r in table] == [(3, 3), (3, 3)]
    assert table[0]["rating"] == pytest.approx(table[1]["rating"])


def test_unparseable_judge_answers_are_counted_as_failures(
    version, scored_sessions, django_capture_on_commit_callbacks
):
    good, plain, judge = version("counselor-good"), version("counselor-plain"), version("judge-garbage", kind="scorer")
    job = _judge_job(
        django_capture_on_commit_callbacks,
        judge_version_id=judge.pk,
        model_a_id=good.pk,
        model_b_id=plain.pk,
        n_battles=2,
    )
    assert job.status == JobStatus.SUCCEEDED and (job.done, job.failed) == (0, 2)
    assert job.results["failures"][0] == "The judge's answer names neither A nor B."
    assert not ArenaBattle.objects.exists()


def test_rejudging_human_battles_gives_a_human_vs_llm_agreement(
    arena, version, staff_user, django_capture_on_commit_callbacks
):
    dialogue, good, _plain = arena
    for _ in range(2):  # the human prefers the good reply twice
        dialogue.refresh_from_db()
        position = "1" if dialogue.pending["order"] == "ab" else "2"
        services.arena_dialogue_judge(
            dialogue=dialogue, position=position, token=dialogue.pending["token"], user=staff_user
        )
    judge = version("judge-marker", kind="scorer")
    job = _judge_job(django_capture_on_commit_callbacks, mode="rejudge", judge_version_id=judge.pk, n_battles=10)
    assert job.status == JobStatus.SUCCEEDED and job.done == 2
    boards = selectors.leaderboards(rounds=20)
    assert boards["between"]["verdicts"] == {"pairs": 2, "agreement": 1.0, "kappa": None}
    assert boards["human"]["battles"] == 2 and boards["llm"]["battles"] == 2
    judges, rates, counts = boards["agreement"].values()
    human, llm = f"human:{staff_user.username}", f"llm:judge-marker #{judge.pk}"
    assert judges == [human, llm]
    assert rates[0][1] == 1.0 and counts[0][1] == 2


def test_judge_job_input_errors(version, db):
    judge = version("judge-marker", kind="scorer")
    with pytest.raises(services.ArenaError, match=str(services.ERR_NO_HUMAN_BATTLES)):
        services.judge_job_create(mode="rejudge", judge_version_id=judge.pk)
    with pytest.raises(services.ArenaError, match=str(services.ERR_NO_HISTORIES)):
        services.judge_job_create(
            judge_version_id=judge.pk, model_a_id=version("counselor-good").pk, model_b_id=version("plain").pk
        )
    with pytest.raises(services.ArenaError):
        services.judge_job_create(judge_version_id=judge.pk, n_battles=0)
    assert not JudgeJob.objects.exists()


@pytest.mark.parametrize("protocol", ["interactive_agents", "platform"])
def test_the_llm_judge_uses_the_papers_supervisor_criteria_or_the_named_platform_variant(
    protocol, settings, version, scored_sessions, llm_stub, django_capture_on_commit_callbacks
):
    from models_ml.arena import judging

    settings.KOKORO_SIM_PROTOCOL = protocol
    good, plain, judge = version("counselor-good"), version("counselor-plain"), version("judge-marker", kind="scorer")
    start = len(llm_stub.requests)
    job = _judge_job(
        django_capture_on_commit_callbacks,
        judge_version_id=judge.pk,
        model_a_id=good.pk,
        model_b_id=plain.pk,
        n_battles=1,
    )
    assert job.status == JobStatus.SUCCEEDED and job.done == 1
    systems = {r["messages"][0]["content"] for r in llm_stub.requests[start:] if r["model"] == "judge-marker"}
    expected = judging.ARENA_JUDGE_SYSTEM if protocol == "interactive_agents" else judging.ARENA_JUDGE_SYSTEM_PLATFORM
    assert systems == {expected}
    if protocol == "interactive_agents":
        assert all(c in expected for c in judging.IA_SUPERVISOR_CRITERIA) and "判定: A" in expected
