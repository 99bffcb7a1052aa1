"""``ws/jobs/``: live progress of the jobs shown on a staff page (protocol: docs/protocol.md, "Job progress").

The page subscribes to the jobs it shows (``{"type": "subscribe", "jobs": ["finetune:12", ...]}``); the
socket answers each with a ``job`` frame (the row as stored now) and sends a new one whenever the job's row
changes (``models_ml.jobs.live.job_notify`` → ``job.changed`` → the row is read again). Staff only, bound to
the login that opened it like the chat sockets (``roleplay.socket_auth``); the origin is checked by the
ASGI stack (``kokoro_site.ws_origin``).
"""

from __future__ import annotations

import asyncio
import logging

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.contrib.auth import get_user_model

from roleplay.db_hop import db_hop
from roleplay.socket_auth import CLOSE_LOGIN_ENDED, LoginBoundSocket

from .live import job_group, job_snapshot, parse_ref

logger = logging.getLogger(__name__)

CLOSE_ANONYMOUS = CLOSE_LOGIN_ENDED  # 4401: not signed in, or the login ended later
CLOSE_FORBIDDEN = 4403  # signed in but not staff (or no longer staff)
CLOSE_LAYER_DOWN = 1013  # the channel layer (Redis) is unreachable: try again later
MAX_JOBS = 50  # subscriptions per socket
MAX_FRAMES = 60  # frames a page may send per FRAME_WINDOW_S
FRAME_WINDOW_S = 10.0


@db_hop  # the sockets' one way to the database (bounded pool, connections closed in the hop)
def _snapshot(key: str, job_id: int, user_id: int) -> tuple[bool, dict | None]:
    """(the user is still active staff, the job's frame or None)."""
    staff = get_user_model().objects.filter(pk=user_id, is_active=True, is_staff=True).exists()
    return staff, (job_snapshot(key=key, job_id=job_id) if staff else None)


class JobProgressConsumer(LoginBoundSocket, AsyncJsonWebsocketConsumer):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.jobs: dict[str, tuple[str, int]] = {}  # "key:id" -> (key, id)
        self._dirty: set[str] = set()
        self._reading: set[str] = set()
        self._frames: list[float] = []
        self._tasks: set[asyncio.Task] = set()

    async def connect(self) -> None:
        user = self.scope.get("user")
        await self.accept()  # refusals are close codes the page can read (a close before accept is a bare 403)
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_ANONYMOUS)
            return
        if not (user.is_active and user.is_staff):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        try:
            if not await self.login_bind():
                return
        except Exception as exc:  # database or layer down: the page retries with backoff and polls meanwhile
            logger.warning("jobs socket of user %s: %s", user.pk, exc)
            await self.close(code=CLOSE_LAYER_DOWN)
            return
        await self.send_json({"type": "hello", "max_jobs": MAX_JOBS})

    async def disconnect(self, code: int) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self.login_unbind()
        for ref, (key, job_id) in list(self.jobs.items()):
            try:
                await self.channel_layer.group_discard(job_group(key, job_id), self.channel_name)
            except Exception as exc:  # the subscription dies with the connection anyway
                logger.warning("jobs socket: group_discard of %s failed (%s)", ref, exc)
        self.jobs.clear()

    # --- page -> server ----------------------------------------------------------------------
    async def receive_json(self, content, **kwargs) -> None:
        if not await self.login_ok():
            return
        type_ = content.get("type") if isinstance(content, dict) else None
        if type_ == "ping":
            await self.send_json({"type": "pong"})
        elif type_ == "subscribe" and isinstance(content.get("jobs"), list):
            for ref in content["jobs"][:MAX_JOBS]:
                await self._subscribe(ref)
        elif type_ == "unsubscribe" and isinstance(content.get("jobs"), list):
            for ref in content["jobs"][:MAX_JOBS]:
                await self._unsubscribe(ref)
        else:
            await self.send_json({"type": "error", "code": "bad_frame"})

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        if self._login_ended or not self._allow_frame():  # nothing from a login that ended; floods are dropped
            return
        try:
            await super().receive(text_data=text_data, bytes_data=bytes_data, **kwargs)
        except ValueError:  # not JSON
            await self.send_json({"type": "error", "code": "bad_frame"})

    def _allow_frame(self) -> bool:
        now = asyncio.get_running_loop().time()
        self._frames = [t for t in self._frames if now - t < FRAME_WINDOW_S]
        if len(self._frames) >= MAX_FRAMES:
            return False
        self._frames.append(now)
        return True

    async def _subscribe(self, ref) -> None:
        parsed = parse_ref(ref)
        if parsed is None:
            await self.send_json({"type": "error", "code": "unknown_job", "job": str(ref)[:80]})
            return
        ref = f"{parsed[0]}:{parsed[1]}"
        if ref in self.jobs:
            await self._push(ref, parsed)
            return
        if len(self.jobs) >= MAX_JOBS:
            await self.send_json({"type": "error", "code": "too_many_jobs", "job": ref})
            return
        try:
            await self.channel_layer.group_add(job_group(*parsed), self.channel_name)
        except Exception as exc:  # Redis down: say so; the page polls and reconnects later
            logger.warning("jobs socket: group_add of %s failed (%s)", ref, exc)
            await self.close(code=CLOSE_LAYER_DOWN)
            return
        self.jobs[ref] = parsed
        if not await self._push(ref, parsed):  # subscribed after the page rendered: send the state now
            self.jobs.pop(ref, None)
            await self.channel_layer.group_discard(job_group(*parsed), self.channel_name)

    async def _unsubscribe(self, ref) -> None:
        parsed = parse_ref(ref)
        if parsed is not None and self.jobs.pop(f"{parsed[0]}:{parsed[1]}", None) is not None:
            await self.channel_layer.group_discard(job_group(*parsed), self.channel_name)

    async def _push(self, ref: str, parsed: tuple[str, int]) -> bool:
        """Read the row and send its frame; False when the job does not exist (an ``unknown_job`` error)."""
        staff, frame = await _snapshot(parsed[0], parsed[1], self._login[0])
        if not staff:
            await self.close(code=CLOSE_FORBIDDEN)
            return False
        if frame is None:
            await self.send_json({"type": "error", "code": "unknown_job", "job": ref})
            return False
        await self.send_json(frame)
        return True

    # --- server events -----------------------------------------------------------------------
    async def job_changed(self, event: dict) -> None:
        """A job's row changed: read it again and send it. Events are handled one at a time, so the read runs
        in a task of its own and the notifications that arrive meanwhile are folded into one more read (a
        burst of progress writes costs at most two reads per socket)."""
        ref = f"{event.get('key')}:{event.get('id')}"
        if ref not in self.jobs or self._login_ended:
            return
        self._dirty.add(ref)
        if ref not in self._reading:
            self._reading.add(ref)
            self._tasks.add(asyncio.ensure_future(self._read_while_dirty(ref)))

    async def _read_while_dirty(self, ref: str) -> None:
        try:
            while ref in self._dirty and ref in self.jobs and not self._login_ended:
                self._dirty.discard(ref)
                await self._push(ref, self.jobs[ref])
        except Exception as exc:  # database down: the next change or the page's slow polling catches up
            logger.warning("jobs socket: %s not read (%s)", ref, exc)
        finally:
            self._reading.discard(ref)
            self._tasks.discard(asyncio.current_task())
