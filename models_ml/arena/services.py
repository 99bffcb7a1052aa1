"""Writes of the arena app: simulation jobs, human arena, LLM-judge jobs, generation evaluation, topic / WAI
labelling. Every job runs in a Celery task that calls one ``*_execute`` function here."""

from __future__ import annotations

import hashlib
import json
import logging
import random
import secrets
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from models_ml.llm.backends import GenerationBackend, GenerationError, get_backend
from models_ml.llm.partners import GREEDY_PARAMS, ai_client_reply, ai_counselor_reply
from models_ml.llm.rules import CLOSING_PHRASES
from models_ml.partners.models import Backend, ModelKind, ModelVersion, RoleCard
from models_ml.partners.selectors import NoModelError, generation_backend_config, retrieval_records
from roleplay.models import EndReason, Message, Session, SessionSource, SessionStatus

from . import judging, metrics, selectors, wai
from . import protocol as sim
from .models import (
    ArenaBattle,
    ArenaDialogue,
    EvalJob,
    JobStatus,
    JudgeJob,
    JudgeKind,
    LabelJob,
    LabelKind,
    SimStatus,
    SimulatedSession,
    SimulationJob,
    WaiRating,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")

ERR_NO_CARDS = _("Choose at least one active role card.")
ERR_SESSIONS_PER_CARD = _("Sessions per role card must be between 1 and %(max)s.")
ERR_MAX_TURNS = _("Max turns must be between 2 and %(max)s.")
ERR_VERSION_KIND = _("Model version #%(id)s is not an active %(kind)s model.")
ERR_SAME_MODELS = _("Choose two different counselor models.")
ERR_N_BATTLES = _("The number of battles must be between 1 and %(max)s.")
ERR_NO_HISTORIES = _("No dialogue to take histories from: run a simulation or import test dialogues first.")
ERR_NO_HUMAN_BATTLES = _("There is no human-judged battle to re-judge yet.")
ERR_BAD_POSITION = _("Pick the first or the second reply, or a tie.")
ERR_DIALOGUE_FINISHED = _("This arena dialogue has ended: start a new one.")
ERR_STALE_PAIR = _("These replies were already judged: the page shows the next pair now.")
ERR_LABEL_KIND = _("Unknown labelling kind.")
ERR_NO_SESSIONS = _("No session matches: nothing to label.")
ERR_BACKEND_NAME = _("Unknown backend %(name)s: choose hf, openai or retrieval.")
ERR_NO_BACKEND = _(
    "No %(name)s counselor model is configured: activate a model version of that backend or pass --model-version."
)
ERR_NO_TEST_DIALOGUES = _("No test dialogue (feedback score 99–100) in the database.")
ERR_LIMIT = _("The limit must be a whole number of at least 1.")
ERR_TURN_FAILED = _("Turn %(turn)s failed after %(tries)s tries: %(detail)s")
ERR_JOB_FAILED = _("The job failed: %(detail)s")
ERR_WORKER_LOST = _("Worker lost: the job made no progress for %(minutes)s minutes. Start it again.")
ERR_NO_JUDGE = _("No LLM judge is configured: add an active scorer model version (openai backend).")

MAX_SESSIONS_PER_CARD = 50
MAX_TURNS = 50
MAX_BATTLES = 1000
DEFAULT_MODEL_KEY = "default"
SIM_CLIENT_KEY = "sim-client"


class ArenaError(Exception):
    def __init__(self, message: Any) -> None:
        super().__init__(str(message))
        self.message = message


# --- settings ----------------------------------------------------------------------------------------


def closing_phrases() -> tuple[str, ...]:
    """``settings.KOKORO_CLOSING_PHRASES`` (a list) overrides ``models_ml.llm.rules.CLOSING_PHRASES``."""
    override = getattr(settings, "KOKORO_CLOSING_PHRASES", None)
    return tuple(override) if override else CLOSING_PHRASES


def turn_retries() -> int:
    return int(getattr(settings, "KOKORO_SIM_TURN_RETRIES", 3))


def retry_backoff_s() -> float:
    return float(getattr(settings, "KOKORO_SIM_RETRY_BACKOFF_S", 1.0))


def elo_k() -> float:
    return float(getattr(settings, "KOKORO_ELO_K", metrics.DEFAULT_K))


# --- backends ----------------------------------------------------------------------------------------

_cache: dict[str, GenerationBackend] = {}
_cache_lock = threading.Lock()


def backend_cache_clear() -> None:
    with _cache_lock:
        _cache.clear()


def model_key(version: ModelVersion | None) -> str:
    """The leaderboard name of a counselor backend."""
    return DEFAULT_MODEL_KEY if version is None else f"{version.name} #{version.pk}"


def _check_version(version_id: int | None, kind: str) -> ModelVersion | None:
    if version_id in (None, ""):
        return None
    version = ModelVersion.objects.filter(pk=version_id, kind=kind, is_active=True).first()
    if version is None:
        raise ArenaError(ERR_VERSION_KIND % {"id": version_id, "kind": kind})
    return version


def backend_for(*, kind: str, version: ModelVersion | None) -> GenerationBackend:
    """The backend of a version, or the default of ``kind`` (``generation_backend_config``), or — when nothing
    is configured — a retrieval partner built in memory from the High-scored sessions."""
    key = f"{kind}:{version.pk if version else DEFAULT_MODEL_KEY}"
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    if version is not None:
        config = version.backend_config()
    else:
        try:
            config = generation_backend_config(kind=kind)
        except NoModelError:
            if kind == ModelKind.SCORER:
                raise ArenaError(ERR_NO_JUDGE) from None
            config = {"backend": "retrieval", "records": retrieval_records(), "role": kind}
    backend = get_backend(config)
    with _cache_lock:
        _cache[key] = backend
    return backend


def with_retries(fn: Callable[[], T], *, tries: int | None = None, backoff: float | None = None) -> T:
    """Call ``fn`` up to ``tries`` times on GenerationError, sleeping backoff·2^k between tries."""
    tries = max(1, tries if tries is not None else turn_retries())
    backoff = retry_backoff_s() if backoff is None else backoff
    for attempt in range(tries):
        try:
            return fn()
        except GenerationError:
            if attempt == tries - 1:
                raise
            time.sleep(backoff * (2**attempt))
    raise AssertionError("unreachable")


# --- bot accounts ------------------------------------------------------------------------------------


def sim_bot_get_or_create(*, key: str, display_name: str, ai_role: str):
    """A simulated participant's password-less account (registered like the practice partners)."""
    from models_ml.practice.services import bot_account_get_or_create

    return bot_account_get_or_create(key=key, display_name=display_name, ai_role=ai_role)


def _counselor_bot(version: ModelVersion | None):
    suffix = DEFAULT_MODEL_KEY if version is None else str(version.pk)
    name = "AI counselor" if version is None else f"AI counselor {version.name}"
    return sim_bot_get_or_create(key=f"sim-counselor-{suffix}", display_name=name, ai_role="counselor")


# --- dispatch ----------------------------------------------------------------------------------------


def _dispatch(task_name: str, job_id: int, *, queue: str = "default") -> None:
    from celery import current_app

    from . import tasks

    task = getattr(tasks, task_name)
    if current_app.conf.task_always_eager and getattr(settings, "KOKORO_ARENA_EMBEDDED_THREAD", True):

        def run() -> None:
            try:
                task.apply(args=[job_id])
            finally:
                connection.close()

        threading.Thread(target=run, name=f"arena-{task_name}-{job_id}", daemon=True).start()
    else:
        task.apply_async(args=[job_id], queue=queue)


def _queue(*versions: ModelVersion | None) -> str:
    return "gpu" if any(v is not None and v.backend == Backend.HF for v in versions) else "default"


def _start(job: Any) -> None:
    job.status = JobStatus.RUNNING
    job.started_at = job.heartbeat_at = timezone.now()
    job.save(update_fields=["status", "started_at", "heartbeat_at"])


def _finish(job: Any, *, error: str = "") -> None:
    job.status = JobStatus.FAILED if error else JobStatus.SUCCEEDED
    job.error = error
    job.finished_at = timezone.now()
    job.save()


def _claim(model: type, job_id: int) -> Any | None:
    """Move a queued job to running (a redelivered message of a job that already ran is skipped)."""
    with transaction.atomic():
        job = model.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status != JobStatus.QUEUED:
            return None
        _start(job)
        return job


def job_fail(*, model: type, job_id: int, reason: str) -> None:
    model.objects.filter(pk=job_id).exclude(status__in=[JobStatus.SUCCEEDED, JobStatus.FAILED]).update(
        status=JobStatus.FAILED, error=reason, finished_at=timezone.now()
    )


def stale_after_s() -> float:
    return float(getattr(settings, "KOKORO_ARENA_STALE_S", 30 * 60))


def arena_jobs_reap_stale() -> int:
    """Running jobs without progress for ``KOKORO_ARENA_STALE_S`` (the worker died) → failed. Returns the count."""
    cutoff = timezone.now() - timedelta(seconds=stale_after_s())
    reason = str(ERR_WORKER_LOST % {"minutes": round(stale_after_s() / 60)})
    count = 0
    for model in (SimulationJob, JudgeJob, EvalJob, LabelJob):
        count += model.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=cutoff).update(
            status=JobStatus.FAILED, error=reason, finished_at=timezone.now()
        )
    return count


# --- simulation --------------------------------------------------------------------------------------


@transaction.atomic
def simulation_job_create(
    *,
    role_card_ids: list[int],
    sessions_per_card: int = 1,
    max_turns: int = MAX_TURNS,
    client_version_id: int | None = None,
    counselor_version_id: int | None = None,
    created_by: Any = None,
) -> SimulationJob:
    if not 1 <= int(sessions_per_card) <= MAX_SESSIONS_PER_CARD:
        raise ArenaError(ERR_SESSIONS_PER_CARD % {"max": MAX_SESSIONS_PER_CARD})
    if not 2 <= int(max_turns) <= MAX_TURNS:
        raise ArenaError(ERR_MAX_TURNS % {"max": MAX_TURNS})
    cards = list(RoleCard.objects.filter(pk__in=role_card_ids or [], is_active=True).order_by("pk"))
    if not cards:
        raise ArenaError(ERR_NO_CARDS)
    client = _check_version(client_version_id, ModelKind.CLIENT)
    counselor = _check_version(counselor_version_id, ModelKind.COUNSELOR)
    job = SimulationJob.objects.create(
        client_version=client,
        counselor_version=counselor,
        sessions_per_card=sessions_per_card,
        max_turns=max_turns,
        total=len(cards) * sessions_per_card,
        created_by=created_by,
    )
    job.role_cards.set(cards)
    SimulatedSession.objects.bulk_create(
        SimulatedSession(job=job, role_card=card, index=i * sessions_per_card + k)
        for i, card in enumerate(cards)
        for k in range(sessions_per_card)
    )
    job_id, queue = job.pk, _queue(client, counselor)
    transaction.on_commit(lambda: _dispatch("run_simulation", job_id, queue=queue))
    return job


def _new_sim_session(job: SimulationJob) -> Session:
    now = timezone.now()
    return Session.objects.create(
        counselor=_counselor_bot(job.counselor_version),
        client=sim_bot_get_or_create(key=SIM_CLIENT_KEY, display_name="AI client", ai_role="client"),
        starts_at=now,
        started_at=now,
        duration_minutes=60,
        status=SessionStatus.LIVE,
        source=SessionSource.SIMULATED,
        is_synthetic=True,
    )


def _append(session: Session, role: str, text: str) -> None:
    with transaction.atomic():
        locked = Session.objects.select_for_update().get(pk=session.pk)
        locked.last_seq += 1
        locked.save(update_fields=["last_seq"])
        Message.objects.create(
            session=locked, seq=locked.last_seq, role=role, sender_id=_sender(locked, role), text=text
        )


def _sender(session: Session, role: str) -> int | None:
    return session.counselor_id if role == "counselor" else session.client_id


def _end_session(session: Session, *, status: str, reason: str) -> None:
    Session.objects.filter(pk=session.pk).update(status=status, end_reason=reason, ended_at=timezone.now())


def simulate_one(*, job: SimulationJob, item: SimulatedSession) -> None:
    """One whole simulated session; a turn that still fails after the retries fails the session (recorded)."""
    card = item.role_card.to_core()
    client = backend_for(kind=ModelKind.CLIENT, version=job.client_version)
    counselor = backend_for(kind=ModelKind.COUNSELOR, version=job.counselor_version)
    phrases = closing_phrases()
    session = _new_sim_session(job)
    item.session, item.status = session, SimStatus.RUNNING
    item.save(update_fields=["session", "status"])
    history: list[dict[str, str]] = []
    tries = turn_retries()
    while len(history) < job.max_turns:
        role = "client" if len(history) % 2 == 0 else "counselor"  # the client greets first
        try:
            if role == "client":
                text = with_retries(
                    lambda: ai_client_reply(client, card, history, **sim.client_params()).text, tries=tries
                )
                closing = None
            else:
                reply = with_retries(
                    lambda: ai_counselor_reply(counselor, history, closing_phrases=phrases, **sim.counselor_params()),
                    tries=tries,
                )
                text, closing = reply.text, reply.closing_phrase
        except GenerationError as exc:
            detail = ERR_TURN_FAILED % {"turn": len(history) + 1, "tries": tries, "detail": exc}
            item.status, item.error, item.turns = SimStatus.FAILED, str(detail), len(history)
            item.save(update_fields=["status", "error", "turns"])
            _end_session(session, status=SessionStatus.CANCELLED, reason=EndReason.ADMIN)
            return
        history.append({"role": role, "text": text})
        _append(session, role, text)
        SimulationJob.objects.filter(pk=job.pk).update(turns=F("turns") + 1, heartbeat_at=timezone.now())
        item.turns = len(history)
        item.save(update_fields=["turns"])
        if closing:
            item.end, item.closing_phrase = "closing", closing
            break
    else:
        item.end = "max_turns"
    item.status = SimStatus.DONE
    item.fidelity = metrics.fidelity_eq1(
        selectors.role_card_text(item.role_card), "\n".join(t["text"] for t in history if t["role"] == "client")
    )
    item.save(update_fields=["status", "end", "closing_phrase", "fidelity"])
    reason = EndReason.COUNSELOR if item.end == "closing" else EndReason.TIME_UP
    _end_session(session, status=SessionStatus.ENDED, reason=reason)


def simulation_job_execute(*, job_id: int) -> str:
    job = _claim(SimulationJob, job_id)
    if job is None:
        return "skipped"
    try:
        for item in job.items.select_related("role_card").filter(status=SimStatus.PENDING):
            if item.role_card is None:
                item.status, item.error = SimStatus.FAILED, "role card deleted"
                item.save(update_fields=["status", "error"])
            else:
                simulate_one(job=job, item=item)
            field = "done" if item.status == SimStatus.DONE else "failed"
            SimulationJob.objects.filter(pk=job.pk).update(**{field: F(field) + 1}, heartbeat_at=timezone.now())
        job.refresh_from_db()
        job.fidelity = selectors.job_fidelity(job)
        _finish(job)
    except Exception as exc:
        logger.exception("simulation job %s failed", job_id)
        job.refresh_from_db()
        _finish(job, error=str(ERR_JOB_FAILED % {"detail": exc}))
    return job.status


# --- human arena -------------------------------------------------------------------------------------


def _pair_key(history: list[dict[str, str]], reply_a: str, reply_b: str, a: str, b: str) -> str:
    blob = json.dumps([history, sorted([(a, reply_a), (b, reply_b)])], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def _propose(dialogue: ArenaDialogue) -> None:
    """Both counselor backends answer the history; the order shown is random."""
    history = dialogue.history
    a = ai_counselor_reply(backend_for(kind=ModelKind.COUNSELOR, version=dialogue.model_a), history)
    b = ai_counselor_reply(backend_for(kind=ModelKind.COUNSELOR, version=dialogue.model_b), history)
    dialogue.pending = {
        "a": a.text,
        "b": b.text,
        "order": secrets.choice(["ab", "ba"]),
        "token": secrets.token_hex(8),
    }


def _client_turn(dialogue: ArenaDialogue) -> None:
    card = dialogue.role_card.to_core()
    backend = backend_for(kind=ModelKind.CLIENT, version=dialogue.client_version)
    reply = with_retries(lambda: ai_client_reply(backend, card, dialogue.history, **sim.client_params()))
    dialogue.history = [*dialogue.history, {"role": "client", "text": reply.text}]


@transaction.atomic
def arena_dialogue_create(
    *,
    role_card_id: int,
    model_a_id: int | None,
    model_b_id: int | None,
    client_version_id: int | None = None,
    created_by: Any = None,
) -> ArenaDialogue:
    card = RoleCard.objects.filter(pk=role_card_id, is_active=True).first()
    if card is None:
        raise ArenaError(ERR_NO_CARDS)
    model_a = _check_version(model_a_id, ModelKind.COUNSELOR)
    model_b = _check_version(model_b_id, ModelKind.COUNSELOR)
    if model_key(model_a) == model_key(model_b):
        raise ArenaError(ERR_SAME_MODELS)
    dialogue = ArenaDialogue(
        role_card=card,
        model_a=model_a,
        model_b=model_b,
        client_version=_check_version(client_version_id, ModelKind.CLIENT),
        created_by=created_by,
    )
    try:
        _client_turn(dialogue)  # the client greets first
        _propose(dialogue)
    except GenerationError as exc:
        raise ArenaError(exc) from exc
    dialogue.save()
    return dialogue


@transaction.atomic
def arena_dialogue_judge(*, dialogue: ArenaDialogue, position: str, token: str, user: Any) -> ArenaBattle:
    """``position``: "1" (shown first), "2" (shown second) or "tie". The preferred reply (a tie keeps the
    first shown) continues the dialogue, the AI client answers and the next pair is generated."""
    dialogue = ArenaDialogue.objects.select_for_update().get(pk=dialogue.pk)
    if dialogue.finished:
        raise ArenaError(ERR_DIALOGUE_FINISHED)
    if position not in ("1", "2", "tie"):
        raise ArenaError(ERR_BAD_POSITION)
    pending = dialogue.pending
    if not pending or pending.get("token") != token:
        raise ArenaError(ERR_STALE_PAIR)
    shown = list(pending["order"])  # e.g. ["b", "a"]: B's reply shown first
    winner = "tie" if position == "tie" else shown[int(position) - 1]
    a_key, b_key = model_key(dialogue.model_a), model_key(dialogue.model_b)
    battle = ArenaBattle.objects.create(
        dialogue=dialogue,
        history=dialogue.history,
        model_a=a_key,
        model_b=b_key,
        model_a_version=dialogue.model_a,
        model_b_version=dialogue.model_b,
        shown_order=pending["order"],
        reply_a=pending["a"],
        reply_b=pending["b"],
        judge_kind=JudgeKind.HUMAN,
        judge_user=user,
        pair_key=_pair_key(dialogue.history, pending["a"], pending["b"], a_key, b_key),
        winner=winner,
    )
    chosen = pending[shown[0] if winner == "tie" else winner]
    dialogue.history = [*dialogue.history, {"role": "counselor", "text": chosen}]
    dialogue.pending = {}
    if judging_is_closing(chosen) or len(dialogue.history) >= MAX_TURNS:
        dialogue.finished = True
    else:
        try:
            _client_turn(dialogue)
            _propose(dialogue)
        except (GenerationError, ArenaError) as exc:
            dialogue.error = str(exc)
            dialogue.finished = True
    dialogue.save()
    return battle


def judging_is_closing(text: str) -> bool:
    from models_ml.llm.rules import detect_closing

    return detect_closing(text, closing_phrases()) is not None


# --- LLM judge ---------------------------------------------------------------------------------------


@transaction.atomic
def judge_job_create(
    *,
    mode: str = JudgeJob.MODE_NEW,
    judge_version_id: int | None = None,
    model_a_id: int | None = None,
    model_b_id: int | None = None,
    n_battles: int = 10,
    both_orders: bool = False,
    created_by: Any = None,
) -> JudgeJob:
    if not 1 <= int(n_battles) <= MAX_BATTLES:
        raise ArenaError(ERR_N_BATTLES % {"max": MAX_BATTLES})
    judge = _check_version(judge_version_id, ModelKind.SCORER)
    model_a = model_b = None
    if mode == JudgeJob.MODE_NEW:
        model_a = _check_version(model_a_id, ModelKind.COUNSELOR)
        model_b = _check_version(model_b_id, ModelKind.COUNSELOR)
        if model_key(model_a) == model_key(model_b):
            raise ArenaError(ERR_SAME_MODELS)
        if not selectors.history_sources().exists():
            raise ArenaError(ERR_NO_HISTORIES)
    elif not ArenaBattle.objects.filter(judge_kind=JudgeKind.HUMAN).exists():
        raise ArenaError(ERR_NO_HUMAN_BATTLES)
    job = JudgeJob.objects.create(
        mode=mode,
        judge_version=judge,
        model_a=model_a,
        model_b=model_b,
        n_battles=n_battles,
        both_orders=both_orders,
        seed=secrets.randbelow(2**31),
        created_by=created_by,
    )
    job_id, queue = job.pk, _queue(model_a, model_b)
    transaction.on_commit(lambda: _dispatch("run_judge", job_id, queue=queue))
    return job


def judge_name(version: ModelVersion | None) -> str:
    if version is not None:
        return f"{version.name} #{version.pk}"
    config = generation_backend_config(kind=ModelKind.SCORER)
    return str(config.get("model") or config.get("backend") or "judge")


def llm_judge(
    *, backend: GenerationBackend, history: list[dict[str, str]], reply_a: str, reply_b: str, order: str
) -> tuple[str, str]:
    """Show the replies in ``order`` ("ab" or "ba"), parse the verdict and map it back: ("a"|"b"|"tie", raw)."""
    first, second = (reply_a, reply_b) if order == "ab" else (reply_b, reply_a)
    raw = with_retries(
        lambda: backend.generate(judging.arena_judge_messages(history, first, second, system=sim.judge_system()))
    )
    shown = judging.parse_judge_answer(raw)  # ValueError when unparseable
    if shown == "tie":
        return "tie", raw
    return order[0 if shown == "A" else 1], raw


def _judge_pair(job: JudgeJob, backend: GenerationBackend, name: str, rng: random.Random, pair: dict) -> None:
    orders = ["ab", "ba"] if job.both_orders else [rng.choice(["ab", "ba"])]
    for order in orders:
        winner, raw = llm_judge(
            backend=backend, history=pair["history"], reply_a=pair["a"], reply_b=pair["b"], order=order
        )
        ArenaBattle.objects.create(
            session_id=pair.get("session_id"),
            history=pair["history"],
            model_a=pair["model_a"],
            model_b=pair["model_b"],
            model_a_version_id=pair.get("model_a_version_id"),
            model_b_version_id=pair.get("model_b_version_id"),
            shown_order=order,
            reply_a=pair["a"],
            reply_b=pair["b"],
            judge_kind=JudgeKind.LLM,
            judge_model=name,
            judge_job=job,
            pair_key=pair["pair_key"],
            winner=winner,
            raw_judgement=raw[:4000],
        )


def _new_pairs(job: JudgeJob, rng: random.Random):
    backend_a = backend_for(kind=ModelKind.COUNSELOR, version=job.model_a)
    backend_b = backend_for(kind=ModelKind.COUNSELOR, version=job.model_b)
    a_key, b_key = model_key(job.model_a), model_key(job.model_b)
    for session_id, history in selectors.sample_histories(n=job.n_battles, rng=rng):
        reply_a = with_retries(lambda h=history: ai_counselor_reply(backend_a, h).text)
        reply_b = with_retries(lambda h=history: ai_counselor_reply(backend_b, h).text)
        yield {
            "session_id": session_id,
            "history": history,
            "a": reply_a,
            "b": reply_b,
            "model_a": a_key,
            "model_b": b_key,
            "model_a_version_id": job.model_a_id,
            "model_b_version_id": job.model_b_id,
            "pair_key": _pair_key(history, reply_a, reply_b, a_key, b_key),
        }


def _rejudge_pairs(job: JudgeJob):
    for b in selectors.human_pairs(limit=job.n_battles):
        yield {
            "session_id": b.session_id,
            "history": b.history,
            "a": b.reply_a,
            "b": b.reply_b,
            "model_a": b.model_a,
            "model_b": b.model_b,
            "model_a_version_id": b.model_a_version_id,
            "model_b_version_id": b.model_b_version_id,
            "pair_key": b.pair_key,
        }


def judge_job_execute(*, job_id: int) -> str:
    job = _claim(JudgeJob, job_id)
    if job is None:
        return "skipped"
    try:
        rng = random.Random(job.seed)
        backend = backend_for(kind=ModelKind.SCORER, version=job.judge_version)
        name = judge_name(job.judge_version)
        pairs = _new_pairs(job, rng) if job.mode == JudgeJob.MODE_NEW else _rejudge_pairs(job)
        job.total = job.n_battles if job.mode == JudgeJob.MODE_NEW else len(selectors.human_pairs(job.n_battles))
        job.save(update_fields=["total"])
        failures: list[str] = []
        for pair in pairs:
            try:
                _judge_pair(job, backend, name, rng, pair)
                JudgeJob.objects.filter(pk=job.pk).update(done=F("done") + 1, heartbeat_at=timezone.now())
            except (GenerationError, ValueError) as exc:
                failures.append(str(exc))
                JudgeJob.objects.filter(pk=job.pk).update(failed=F("failed") + 1, heartbeat_at=timezone.now())
        job.refresh_from_db()
        job.results = {"failures": failures[:50]}
        _finish(job)
    except Exception as exc:
        logger.exception("judge job %s failed", job_id)
        job.refresh_from_db()
        _finish(job, error=str(ERR_JOB_FAILED % {"detail": exc}))
    return job.status


# --- generation evaluation (KokoroChat protocol) -----------------------------------------------------


def eval_backend(*, backend_name: str, version_id: int | None) -> tuple[GenerationBackend, str]:
    if backend_name not in (Backend.HF, Backend.OPENAI, Backend.RETRIEVAL):
        raise ArenaError(ERR_BACKEND_NAME % {"name": backend_name})
    if version_id is not None:
        version = ModelVersion.objects.filter(pk=version_id, kind=ModelKind.COUNSELOR).first()
        if version is None or version.backend != backend_name:
            raise ArenaError(ERR_VERSION_KIND % {"id": version_id, "kind": f"{backend_name} counselor"})
        return get_backend(version.backend_config()), model_key(version)
    active = ModelVersion.objects.filter(kind=ModelKind.COUNSELOR, backend=backend_name, is_active=True).first()
    if active is not None:
        return get_backend(active.backend_config()), model_key(active)
    configured = (getattr(settings, "KOKORO_GENERATION_BACKENDS", None) or {}).get("counselor") or {}
    if configured.get("backend") == backend_name and all(configured.get(k) for k in ("base_url", "model")):
        from models_ml.partners.models import resolve_backend_config

        return get_backend(resolve_backend_config(configured)), f"settings:{configured.get('model')}"
    if backend_name == Backend.RETRIEVAL:
        return get_backend({"backend": "retrieval", "records": retrieval_records()}), "retrieval (in memory)"
    raise ArenaError(ERR_NO_BACKEND % {"name": backend_name})


def evaluate_generation(
    *,
    backend_name: str,
    version_id: int | None = None,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Every counselor turn of the test dialogues (score 99–100): history → reply, against the real reply."""
    if limit is not None and int(limit) < 1:
        raise ArenaError(ERR_LIMIT)
    cases = selectors.test_turns(limit=limit)
    if not cases:
        raise ArenaError(ERR_NO_TEST_DIALOGUES)
    backend, name = eval_backend(backend_name=backend_name, version_id=version_id)
    hyps, refs = [], []
    started = time.monotonic()
    for i, (_session_id, history, reference) in enumerate(cases, start=1):
        hyps.append(ai_counselor_reply(backend, history, **GREEDY_PARAMS).text)  # greedy, as the paper
        refs.append(reference)
        if progress:
            progress(i, len(cases))
    return {
        "backend": backend_name,
        "model": name,
        "turns": len(cases),
        "dialogues": len({c[0] for c in cases}),
        "decoding": "greedy",
        "tokenization": {
            "word": "MeCab (fugashi + unidic-lite) surface forms",
            "char": "characters, whitespace removed",
        },
        "metrics": metrics.generation_metrics(hyps, refs),
        "seconds": round(time.monotonic() - started, 2),
        "examples": [{"reference": r, "generated": h} for h, r in list(zip(hyps, refs, strict=True))[:5]],
    }


@transaction.atomic
def eval_job_create(
    *, backend_name: str, version_id: int | None = None, limit: int | None = None, created_by: Any = None
) -> EvalJob:
    if backend_name not in (Backend.HF, Backend.OPENAI, Backend.RETRIEVAL):
        raise ArenaError(ERR_BACKEND_NAME % {"name": backend_name})
    if limit is not None and int(limit) < 1:
        raise ArenaError(ERR_LIMIT)
    version = _check_version(version_id, ModelKind.COUNSELOR) if version_id else None
    job = EvalJob.objects.create(model_version=version, backend_name=backend_name, limit=limit, created_by=created_by)
    job_id, queue = job.pk, _queue(version)
    transaction.on_commit(lambda: _dispatch("run_evaluation", job_id, queue=queue))
    return job


def eval_job_execute(*, job_id: int) -> str:
    job = _claim(EvalJob, job_id)
    if job is None:
        return "skipped"
    last = [0.0]

    def progress(done: int, total: int) -> None:
        if time.monotonic() - last[0] > 1 or done == total:
            last[0] = time.monotonic()
            EvalJob.objects.filter(pk=job.pk).update(done=done, total=total, heartbeat_at=timezone.now())

    try:
        job.results = evaluate_generation(
            backend_name=job.backend_name, version_id=job.model_version_id, limit=job.limit, progress=progress
        )
        job.refresh_from_db(fields=["done", "total"])
        _finish(job)
    except Exception as exc:
        logger.exception("evaluation job %s failed", job_id)
        _finish(job, error=str(getattr(exc, "message", exc)))
    return job.status


# --- topic labelling and WAI-O-S ---------------------------------------------------------------------


@transaction.atomic
def label_job_create(
    *,
    kind: str,
    session_ids: list[int] | None = None,
    source: str = "simulated",
    overwrite: bool = False,
    judge_version_id: int | None = None,
    limit: int = 100,
    created_by: Any = None,
) -> LabelJob:
    if kind not in LabelKind.values:
        raise ArenaError(ERR_LABEL_KIND)
    judge = _check_version(judge_version_id, ModelKind.SCORER)
    ids = selectors.sessions_to_label(
        kind=kind, session_ids=session_ids, source=source, overwrite=overwrite, limit=limit
    )
    if not ids:
        raise ArenaError(ERR_NO_SESSIONS)
    job = LabelJob.objects.create(
        kind=kind, judge_version=judge, session_ids=ids, overwrite=overwrite, total=len(ids), created_by=created_by
    )
    job_id = job.pk
    transaction.on_commit(lambda: _dispatch("run_labels", job_id))
    return job


def _ask(backend: GenerationBackend, messages: list[dict[str, str]], parse: Callable[[str], T], tries: int):
    """Generate and parse; an unparseable answer is asked again (``tries`` in all). Returns (parsed, raw)."""
    error: Exception | None = None
    for _attempt in range(max(1, tries)):
        raw = with_retries(lambda: backend.generate(messages))
        try:
            return parse(raw), raw
        except ValueError as exc:
            error = exc
    raise ValueError(str(error))


@transaction.atomic
def session_topic_set(*, session_id: int, topic: str, sub: str, overwrite: bool) -> bool:
    session = Session.objects.select_for_update().get(pk=session_id)
    if session.topic and not overwrite:
        return False
    session.topic, session.topic_sub = topic, sub
    session.save(update_fields=["topic", "topic_sub"])
    return True


def label_job_execute(*, job_id: int) -> str:
    job = _claim(LabelJob, job_id)
    if job is None:
        return "skipped"
    try:
        backend = backend_for(kind=ModelKind.SCORER, version=job.judge_version)
        name = judge_name(job.judge_version)
        failures: dict[str, str] = {}
        labels: dict[str, Any] = {}
        for session_id in job.session_ids:
            history = selectors.session_history(session_id=session_id)
            try:
                if job.kind == LabelKind.TOPIC:
                    (topic, sub), _raw = _ask(
                        backend, judging.topic_messages(history), judging.parse_topic_answer, job.max_tries
                    )
                    session_topic_set(session_id=session_id, topic=topic, sub=sub, overwrite=job.overwrite)
                    labels[str(session_id)] = {"topic": topic, "sub": sub}
                else:
                    rated = wai.rate_session(
                        lambda m: _ask(backend, m, wai.parse_rating, job.max_tries)[0], judging.transcript(history)
                    )
                    WaiRating.objects.create(
                        session_id=session_id,
                        job=job,
                        judge_model=name,
                        items=rated.items,
                        raw=wai.raw(rated),
                        **rated.means,
                    )
                    labels[str(session_id)] = rated.means
                LabelJob.objects.filter(pk=job.pk).update(done=F("done") + 1, heartbeat_at=timezone.now())
            except (GenerationError, ValueError) as exc:
                failures[str(session_id)] = str(exc)
                LabelJob.objects.filter(pk=job.pk).update(failed=F("failed") + 1, heartbeat_at=timezone.now())
        job.refresh_from_db()
        job.results = {"labels": labels, "failures": failures}
        _finish(job)
    except Exception as exc:
        logger.exception("label job %s failed", job_id)
        job.refresh_from_db()
        _finish(job, error=str(getattr(exc, "message", exc)))
    return job.status
