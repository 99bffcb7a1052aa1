"""Live job progress: ``job_progress`` & co. push to ``ws/jobs/`` through the configured channel layer (Redis in CI)
and the full ASGI stack (origin check, session cookie, staff only, bound to the login)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction
from django.test import Client
from django.utils import timezone

from models_ml.finetuning.models import LIVE_LOSS_POINTS, FineTuneJob
from models_ml.jobs.consumers import CLOSE_ANONYMOUS, CLOSE_FORBIDDEN
from models_ml.jobs.control import job_cancel
from models_ml.jobs.live import job_snapshot, parse_ref
from models_ml.jobs.models import JobStatus
from models_ml.jobs.services import job_claim, job_fail, job_finish, job_progress, jobs_reap_stale
from roleplay.socket_auth import login_revoke
from tests import chat_sockets
from tests.conftest import IN_CI
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60), pytest.mark.usefixtures("layer")]

TIMEOUT = 3
PATH = "/ws/jobs/"
ORIGIN = (b"origin", b"http://localhost")
HOST = (b"host", b"localhost")


def _job(**fields) -> FineTuneJob:
    values = {"task": "response", "data_subset": "full", "base_model": "/models/base", "hyperparameters": {}}
    return FineTuneJob.objects.create(**{**values, **fields})


make_job = sync_to_async(_job)
make_user = sync_to_async(UserFactory)


@sync_to_async
def _cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


async def _open(user=None, *, origin=ORIGIN):
    """(communicator, connected, close code) through the project's ASGI application."""
    from kokoro_site.asgi import application

    headers = [origin, HOST]
    if user is not None:
        headers.append((b"cookie", f"sessionid={await _cookie(user)}".encode()))
    comm = WebsocketCommunicator(application, PATH, headers=headers)
    connected, code = await chat_sockets.handshake(comm, timeout=TIMEOUT)
    return comm, connected, code


async def _subscribed(user, *refs: str):
    comm, connected, code = await _open(user)
    assert connected, code
    assert (await comm.receive_json_from(TIMEOUT))["type"] == "hello"
    await comm.send_json_to({"type": "subscribe", "jobs": list(refs)})
    return comm


async def test_job_progress_reaches_a_subscribed_socket(layer):
    if IN_CI:  # the point of this test in CI: a real channel layer between the worker and the socket
        assert "redis" in type(layer).__module__
    staff = await make_user(is_staff=True)
    job = await make_job()
    other = await make_job()
    comm = await _subscribed(staff, f"finetune:{job.pk}")
    first = await comm.receive_json_from(TIMEOUT)  # the state at subscription time
    assert first["type"] == "job" and first["job"] == f"finetune:{job.pk}" and first["status"] == "queued"
    assert first["percent"] == 0 and first["terminal"] is False

    await sync_to_async(job_claim)(model=FineTuneJob, job_id=job.pk, hostname="gpu1")
    assert (await comm.receive_json_from(TIMEOUT))["status"] == "running"
    await sync_to_async(job_progress)(
        model=FineTuneJob, job_id=job.pk, progress=40, message="training", step=40, total_steps=100,
        log_tail=["step 40/100 loss 1.2"],
    )  # fmt: skip
    frame = await comm.receive_json_from(TIMEOUT)
    assert (frame["percent"], frame["step"], frame["total"], frame["message"]) == (40, 40, 100, "training")
    assert frame["log_tail"] == ["step 40/100 loss 1.2"] and frame["status"] == "running"

    await sync_to_async(job_progress)(model=FineTuneJob, job_id=job.pk)  # a bare heartbeat: nothing to show
    await sync_to_async(job_progress)(model=FineTuneJob, job_id=other.pk, progress=10)  # not subscribed
    assert await comm.receive_nothing(timeout=0.5)

    await sync_to_async(job_finish)(model=FineTuneJob, job_id=job.pk, step=100)
    frame = await comm.receive_json_from(TIMEOUT)
    assert (frame["status"], frame["percent"], frame["terminal"]) == ("succeeded", 100, True)
    await comm.disconnect()


async def test_fail_and_reap_are_pushed_and_a_rolled_back_change_is_not():
    staff = await make_user(is_staff=True)
    job = await make_job()
    reaped = await make_job()
    comm = await _subscribed(staff, f"finetune:{job.pk}", f"finetune:{reaped.pk}")
    assert {(await comm.receive_json_from(TIMEOUT))["job"] for _ in range(2)} == {
        f"finetune:{job.pk}",
        f"finetune:{reaped.pk}",
    }
    await sync_to_async(job_claim)(model=FineTuneJob, job_id=job.pk)
    await comm.receive_json_from(TIMEOUT)

    @sync_to_async
    def rolled_back() -> None:
        with pytest.raises(RuntimeError), transaction.atomic():
            job_progress(model=FineTuneJob, job_id=job.pk, progress=50, message="never committed")
            raise RuntimeError

    await rolled_back()
    assert await comm.receive_nothing(timeout=0.5)  # notified on commit only

    await sync_to_async(job_fail)(model=FineTuneJob, job_id=job.pk, reason="boom", code="failed")
    frame = await comm.receive_json_from(TIMEOUT)
    assert (frame["status"], frame["error"], frame["terminal"]) == ("failed", "boom", True)

    @sync_to_async
    def reap() -> int:
        FineTuneJob.objects.filter(pk=reaped.pk).update(status=JobStatus.RUNNING, heartbeat_at=timezone.now())
        return jobs_reap_stale(models=[FineTuneJob], stale_after=timedelta(0), now=timezone.now() + timedelta(1))

    assert await reap() == 1
    frame = await comm.receive_json_from(TIMEOUT)
    assert frame["job"] == f"finetune:{reaped.pk}" and frame["error_code"] == "worker_lost"
    await comm.disconnect()


async def test_a_cancel_from_a_job_card_is_pushed():
    staff = await make_user(is_staff=True)
    job = await make_job()
    comm = await _subscribed(staff, f"finetune:{job.pk}")
    await comm.receive_json_from(TIMEOUT)  # the snapshot on subscribing
    await sync_to_async(job_cancel)(model=FineTuneJob, job_id=job.pk, user=staff)
    frame = await comm.receive_json_from(TIMEOUT)
    assert (frame["status"], frame["terminal"]) == ("cancelled", True)
    await comm.disconnect()


async def test_non_staff_anonymous_and_foreign_origin_are_refused():
    staff = await make_user(is_staff=True)
    counselor = await make_user()
    _comm, connected, code = await _open(counselor)
    assert not connected and code == CLOSE_FORBIDDEN
    _comm, connected, code = await _open(None)
    assert not connected and code == CLOSE_ANONYMOUS
    foreign, connected, _code = await _open(staff, origin=(b"origin", b"http://evil.example"))
    assert not connected  # refused before the socket opens (HTTP 403 in a browser)
    other_port, connected, _code = await _open(staff, origin=(b"origin", b"http://localhost:8001"))
    assert not connected


async def test_unknown_jobs_and_bad_frames_are_answered_with_errors():
    staff = await make_user(is_staff=True)
    job = await make_job()
    comm = await _subscribed(staff, "finetune:999999", "nope:1", "finetune:abc", 7, f"finetune:{job.pk}")
    codes = [await comm.receive_json_from(TIMEOUT) for _ in range(5)]
    assert [f.get("code") for f in codes[:4]] == ["unknown_job"] * 4 and codes[4]["type"] == "job"
    await comm.send_to(text_data="not json")
    assert (await comm.receive_json_from(TIMEOUT))["code"] == "bad_frame"
    await comm.send_json_to({"type": "ping"})
    assert (await comm.receive_json_from(TIMEOUT))["type"] == "pong"
    await comm.disconnect()


async def test_a_flood_of_frames_is_dropped_beyond_the_limit():
    from models_ml.jobs.consumers import MAX_FRAMES

    staff = await make_user(is_staff=True)
    comm, connected, code = await _open(staff)
    assert connected, code
    await comm.receive_json_from(TIMEOUT)  # hello
    for _ in range(MAX_FRAMES + 10):
        await comm.send_to(text_data="not json")
    answers = [await comm.receive_json_from(TIMEOUT) for _ in range(MAX_FRAMES)]
    assert {a["code"] for a in answers} == {"bad_frame"}
    assert await comm.receive_nothing(timeout=0.5)  # the last ten were dropped
    await comm.disconnect()


async def test_the_socket_ends_with_the_login_and_with_the_staff_flag():
    staff = await make_user(is_staff=True)
    job = await make_job()
    comm = await _subscribed(staff, f"finetune:{job.pk}")
    await comm.receive_json_from(TIMEOUT)
    await sync_to_async(login_revoke)(user_id=staff.pk)  # log-out / password change
    assert (await comm.receive_output(TIMEOUT)) == {"type": "websocket.close", "code": CLOSE_ANONYMOUS}

    demoted = await make_user(is_staff=True)
    comm = await _subscribed(demoted, f"finetune:{job.pk}")
    await comm.receive_json_from(TIMEOUT)
    demoted.is_staff = False
    await sync_to_async(demoted.save)(update_fields=["is_staff"])
    await sync_to_async(job_claim)(model=FineTuneJob, job_id=job.pk)
    assert (await comm.receive_output(TIMEOUT)) == {"type": "websocket.close", "code": CLOSE_FORBIDDEN}


def test_refs_and_snapshots(db):
    job = _job(status=JobStatus.RUNNING, step=3, total_steps=12, log_tail=[f"line {i}" for i in range(30)])
    assert job.live_ref == f"finetune:{job.pk}"
    assert parse_ref(f"finetune:{job.pk}") == ("finetune", job.pk)
    assert [parse_ref(r) for r in ("finetune:0", "finetune:-1", "finetune:1:2", "unknown:1", None, "finetune:١")] == [
        None
    ] * 6
    frame = job_snapshot(key="finetune", job_id=job.pk)
    assert (frame["percent"], frame["step"], frame["total"]) == (25, 3, 12)
    assert frame["log_tail"] == [f"line {i}" for i in range(10, 30)]  # the last LOG_LINES lines
    assert job_snapshot(key="finetune", job_id=job.pk + 1000) is None


def test_a_fine_tuning_frame_carries_epoch_eta_and_the_newest_loss_points(db):
    history = [{"step": s, "epoch": s / 100, "loss": 3 - s / 100} for s in range(1, 41)]
    history.append({"step": 40, "epoch": 0.4, "eval_loss": 2.9})
    job = _job(status=JobStatus.RUNNING, step=40, total_steps=100, epoch=0.4, eta_seconds=3900, loss_history=history)
    frame = job_snapshot(key="finetune", job_id=job.pk)
    assert (frame["epoch"], frame["eta_seconds"], frame["loss_count"]) == ("0.40", 3900, 41)
    assert frame["loss_points"] == history[-LIVE_LOSS_POINTS:] and frame["loss_points"][-1]["eval_loss"] == 2.9
    job_finish(model=FineTuneJob, job_id=job.pk, status=JobStatus.CANCELLED)
    frame = job_snapshot(key="finetune", job_id=job.pk)
    assert frame["eta_seconds"] is None  # an ETA is shown only while the job runs
    empty = job_snapshot(key="finetune", job_id=_job().pk)
    assert (empty["loss_points"], empty["loss_count"], empty["epoch"]) == ([], 0, "0.00")


def test_an_unreachable_layer_never_fails_a_job_write_and_pauses_the_pushes(db, monkeypatch):
    from models_ml.jobs import live

    calls = []

    class DownLayer:
        async def group_send(self, group, message):
            calls.append(group)
            raise ConnectionError("redis is down")

    monkeypatch.setattr(live, "get_channel_layer", lambda: DownLayer())
    monkeypatch.setattr(live, "_paused_until", 0.0)
    job = _job(status=JobStatus.RUNNING)
    assert job_progress(model=FineTuneJob, job_id=job.pk, progress=10, message="a")  # outside a transaction
    assert job_progress(model=FineTuneJob, job_id=job.pk, progress=20, message="b")
    assert calls == [f"job_finetune_{job.pk}"]  # the second push waited out the pause instead of Redis
    job.refresh_from_db()
    assert (job.progress, job.message) == (20, "b")
