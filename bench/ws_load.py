"""WebSocket load test of the chat against a running server (services mode: daphne + Redis + PostgreSQL).

Creates N live sessions with two fresh users each directly in the database (same DATABASE_URL
as the server), logs them in by creating Django sessions and sending the ``sessionid`` cookie
(with an Origin the server's AllowedHostsOriginValidator accepts), then opens two sockets per
session and lets both sides send M messages each, each waiting for its ack before the next.

Reports messages/s and send-to-partner latency (p50/p95/p99), checks that every message
reached the partner exactly once and in order (per sender; seq 1..2M unique per socket) and
that the database holds 1..2M per session. Exits 1 on any loss, duplicate, reorder or error.

It also reports the server's CPU seconds per stored message (user + system time of every process
listening on the URL's port and their children, read from ``/proc`` before and after the run;
``--server-pids`` names them instead) and the machine's load average during the run (the CPU per
message hardly depends on other load; the latency percentiles do: read them beside the load).

Example (server started with a rate limit high enough for a load test; docs/benchmarks.md):
    KOKORO_CHAT_RATE_LIMIT=100000 DB_CONN_MAX_AGE=60 DATABASE_URL=... REDIS_URL=... \
        uvicorn kokoro_site.asgi:application --port 8101 --workers 2 --ws websockets-sansio
    DATABASE_URL=... python bench/ws_load.py --sessions 100 --messages 10 --interval 2 --url ws://127.0.0.1:8101
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kokoro_site.settings.local")


@dataclass
class Side:
    session_id: int
    role: str
    partner_role: str
    cookie: str
    sent_at: dict[str, float] = field(default_factory=dict)
    acks: dict[str, int] = field(default_factory=dict)
    received: list[dict] = field(default_factory=list)  # message frames, arrival order
    errors: list[dict] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    ack_latencies: list[float] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)


def setup_sessions(n: int, run: str) -> list[tuple[int, str, str]]:
    """Create n live sessions and a logged-in Django session per user; return cookies."""
    import django

    django.setup()
    from datetime import timedelta

    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django.utils import timezone

    from roleplay.models import Profile, Session, SessionStatus

    user_model = get_user_model()

    def login_key(user) -> str:
        store = SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        return store.session_key

    out = []
    now = timezone.now()
    for i in range(n):
        users = []
        for role in ("c", "k"):
            user = user_model.objects.create_user(username=f"bench-{run}-{i}-{role}", password=None)
            Profile.objects.create(user=user, display_name=f"bench {i}{role}")
            users.append(user)
        session = Session.objects.create(
            counselor=users[0],
            client=users[1],
            starts_at=now - timedelta(minutes=1),
            started_at=now - timedelta(minutes=1),
            duration_minutes=60,
            status=SessionStatus.LIVE,
            topic_sub=f"bench {run}",
        )
        out.append((session.pk, login_key(users[0]), login_key(users[1])))
    return out


def check_database(ids: list[int], expected: int) -> list[str]:
    from roleplay.models import Message, Session

    problems = []
    for sid in ids:
        seqs = list(Message.objects.filter(session_id=sid).order_by("seq").values_list("seq", flat=True))
        last_seq = Session.objects.values_list("last_seq", flat=True).get(pk=sid)
        if seqs != list(range(1, expected + 1)) or last_seq != expected:
            problems.append(f"session {sid}: db has {len(seqs)} messages, last_seq={last_seq}")
    return problems


def cleanup(run: str, sessions: list[tuple[int, str, str]]) -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.models import Session as DjangoSession

    from roleplay.models import Session

    Session.objects.filter(pk__in=[s[0] for s in sessions]).delete()
    DjangoSession.objects.filter(session_key__in=[k for s in sessions for k in s[1:]]).delete()
    get_user_model().objects.filter(username__startswith=f"bench-{run}-").delete()


async def open_socket(url: str, session_id: int, cookie: str, origin, handshakes: asyncio.Semaphore, *, open_timeout):
    """A logged-in chat socket; ``handshakes`` bounds the handshakes in flight (the server's listen backlog)."""
    from websockets.asyncio.client import connect

    async with handshakes:
        return await connect(
            f"{url}/ws/sessions/{session_id}/",
            origin=origin,
            additional_headers={"Cookie": f"sessionid={cookie}"},
            open_timeout=open_timeout,
            max_queue=None,
            compression=None,
        )


async def run_side(
    side: Side,
    url: str,
    origin: str,
    messages: int,
    start: asyncio.Event,
    wait_s: float,
    ready: list,
    interval: float = 0.0,
) -> None:
    expected_frames = messages  # the partner's; own messages come back as acks
    ws = await open_socket(url, side.session_id, side.cookie, origin, HANDSHAKES, open_timeout=30)
    async with ws:
        acked = asyncio.Event()
        hello = asyncio.Event()

        async def reader() -> None:
            async for raw in ws:
                frame = json.loads(raw)
                kind = frame.get("type")
                if kind == "message":
                    side.received.append(frame)
                    if frame["role"] == side.partner_role and frame["client_msg_id"] in PARTNER_SENT.get(
                        (side.session_id, side.partner_role), {}
                    ):
                        sent = PARTNER_SENT[(side.session_id, side.partner_role)][frame["client_msg_id"]]
                        side.latencies.append(time.perf_counter() - sent)
                    if len(side.received) >= expected_frames:
                        side.done.set()
                elif kind == "ack":
                    side.acks[frame["client_msg_id"]] = frame["seq"]
                    sent = PARTNER_SENT.get((side.session_id, side.role), {}).get(frame["client_msg_id"])
                    if sent is not None:
                        side.ack_latencies.append(time.perf_counter() - sent)
                    acked.set()
                elif kind == "hello":
                    hello.set()
                elif kind == "error":
                    side.errors.append(frame)
                    acked.set()

        read_task = asyncio.create_task(reader())
        await asyncio.wait_for(hello.wait(), wait_s)  # the socket's join work is done
        ready.append(side)
        await start.wait()
        mine = PARTNER_SENT.setdefault((side.session_id, side.role), {})
        if interval:  # paced senders start spread out, like people do
            await asyncio.sleep(random.uniform(0, interval))
        for i in range(messages):
            cid = f"{side.session_id}-{side.role}-{i}"
            acked.clear()
            mine[cid] = time.perf_counter()
            await ws.send(json.dumps({"type": "message", "text": f"負荷試験 {side.role} {i}", "client_msg_id": cid}))
            await asyncio.wait_for(acked.wait(), wait_s)
            if interval:
                await asyncio.sleep(interval)
        try:
            await asyncio.wait_for(side.done.wait(), wait_s)
        except TimeoutError:
            pass
        read_task.cancel()


PARTNER_SENT: dict[tuple[int, str], dict[str, float]] = {}
HANDSHAKES: asyncio.Semaphore


def verify(side: Side, messages: int) -> list[str]:
    """Partner's messages exactly once, in send order and in seq order; own seqs from the acks."""
    problems = []
    where = f"{side.session_id}/{side.role}"
    seqs = [f["seq"] for f in side.received] + list(side.acks.values())
    if sorted(seqs) != list(range(1, 2 * messages + 1)):
        dup = len(seqs) - len(set(seqs))
        problems.append(f"{where}: saw {len(seqs)} seqs ({dup} duplicates), expected 1..{2 * messages}")
    ids = [f["client_msg_id"] for f in side.received]
    if ids != [f"{side.session_id}-{side.partner_role}-{i}" for i in range(messages)]:
        want = [f"{side.session_id}-{side.partner_role}-{i}" for i in range(messages)]
        first = next((i for i, (a, b) in enumerate(zip(ids, want, strict=False)) if a != b), min(len(ids), len(want)))
        problems.append(
            f"{where}: partner messages lost, duplicated or out of order "
            f"(got {len(ids)}, first difference at #{first}: {ids[first : first + 3]} vs {want[first : first + 3]})"
        )
    received_seqs = [f["seq"] for f in side.received]
    if received_seqs != sorted(received_seqs):
        problems.append(f"{where}: partner messages arrived out of seq order")
    if side.errors:
        problems.append(f"{where}: error frames {side.errors[:2]}")
    return problems


def listening_pids(port: int) -> list[int]:
    """Processes with a listening TCP socket on ``port`` (from /proc), and their children."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(cols[9])
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                link = os.readlink(fd)
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    pids.add(int(entry.name))
                    break
        except OSError:
            continue
    return sorted(pids | {c for p in pids for c in children(p)})


def children(pid: int) -> set[int]:
    out: set[int] = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out |= {int(entry.name)} | children(int(entry.name))
    return out


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds of each of ``pids`` so far (/proc/<pid>/stat, fields 14 and 15)."""
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


async def load_sampler(out: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        out.append(loadavg())
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except TimeoutError:
            pass


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


async def main_async(args, sessions: list[tuple[int, str, str]]) -> tuple[list[Side], float, float]:
    sides = []
    for sid, c_cookie, k_cookie in sessions:
        sides.append(Side(sid, "counselor", "client", c_cookie))
        sides.append(Side(sid, "client", "counselor", k_cookie))
    global HANDSHAKES
    HANDSHAKES = asyncio.Semaphore(args.connect_concurrency)
    start = asyncio.Event()
    ready: list[Side] = []
    t_connect = time.perf_counter()
    tasks = [
        asyncio.create_task(
            run_side(s, args.url, args.origin, args.messages, start, args.timeout, ready, args.interval)
        )
        for s in sides
    ]
    # Every socket connects and gets its hello (and syncs nothing) before the burst starts.
    while len(ready) < len(sides) and not any(t.done() for t in tasks):
        if time.perf_counter() - t_connect > args.timeout:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)  # the joins' presence frames settle: the CPU figure counts messages only
    loads: list[float] = []
    stop = asyncio.Event()
    sampler = asyncio.create_task(load_sampler(loads, stop))
    cpu0 = cpu_seconds(args.server_pids)
    t0 = time.perf_counter()
    start.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    elapsed = time.perf_counter() - t0
    cpu1 = cpu_seconds(args.server_pids)
    args.server_cpu_by_pid = {pid: round(cpu1[pid] - cpu0.get(pid, 0.0), 2) for pid in cpu1}
    args.server_cpu_s = sum(args.server_cpu_by_pid.values())
    stop.set()
    await sampler
    args.loads = loads + [loadavg()]
    for side, result in zip(sides, results, strict=True):
        if isinstance(result, BaseException):
            side.errors.append({"exception": repr(result)})
    return sides, elapsed, t0 - t_connect


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--messages", type=int, default=20, help="messages sent by EACH side of a session")
    parser.add_argument("--url", default="ws://127.0.0.1:8101")
    parser.add_argument("--origin", default=None, help="Origin header (default: the URL's host over http)")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument(
        "--interval", type=float, default=0.0, help="pause after each ack (0 = closed loop, as fast as acks come)"
    )
    parser.add_argument("--connect-concurrency", type=int, default=20, help="handshakes in flight at once")
    parser.add_argument(
        "--server-pids",
        default="",
        help="comma-separated server pids (default: listening on the URL's port + children)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the bench users and sessions")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    args.origin = args.origin or args.url.replace("ws://", "http://").replace("wss://", "https://")

    run = uuid.uuid4().hex[:8]
    sessions = setup_sessions(args.sessions, run)
    if args.server_pids:
        args.server_pids = [int(p) for p in args.server_pids.split(",")]
    else:
        args.server_pids = listening_pids(urlparse(args.url).port or 80)
    if not args.server_pids:
        print("warning: no server process found on the URL's port: no CPU figure", file=sys.stderr)
    ids = [s[0] for s in sessions]
    try:
        sides, elapsed, connect_s = asyncio.run(main_async(args, sessions))
        problems = [p for side in sides for p in verify(side, args.messages)]
        problems += check_database(ids, 2 * args.messages)
    finally:
        if not args.keep:
            try:
                cleanup(run, sessions)
            except Exception as exc:  # e.g. a newer app's tables are missing: report, keep results
                print(f"warning: cleanup failed ({exc!r}); run `manage.py migrate`", file=sys.stderr)
    latencies_ms = [x * 1000 for side in sides for x in side.latencies]
    ack_ms = [x * 1000 for side in sides for x in side.ack_latencies]
    total = args.sessions * 2 * args.messages
    result = {
        "sessions": args.sessions,
        "sockets": 2 * args.sessions,
        "messages_sent": total,
        "elapsed_s": round(elapsed, 2),
        "messages_per_s": round(total / elapsed, 1) if elapsed else None,
        "deliveries_per_s": round(2 * total / elapsed, 1) if elapsed else None,
        "latency_ms": {
            "p50": round(pct(latencies_ms, 50), 1),
            "p95": round(pct(latencies_ms, 95), 1),
            "p99": round(pct(latencies_ms, 99), 1),
            "max": round(max(latencies_ms), 1) if latencies_ms else None,
            "samples": len(latencies_ms),
        },
        "ack_latency_ms": {
            "p50": round(pct(ack_ms, 50), 1),
            "p95": round(pct(ack_ms, 95), 1),
            "p99": round(pct(ack_ms, 99), 1),
        },
        "server_pids": args.server_pids,
        "server_cpu_s": round(args.server_cpu_s, 2),
        "server_cpu_s_by_pid": args.server_cpu_by_pid,
        "server_cpu_ms_per_msg": round(1000 * args.server_cpu_s / total, 2) if total else None,
        "loadavg_1min": {"start": args.loads[0], "max": max(args.loads), "end": args.loads[-1]},
        "connect_s": round(connect_s, 2),
        "problems": len(problems),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{result['sessions']} sessions / {result['sockets']} sockets, {total} messages in {elapsed:.2f}s: "
            f"{result['messages_per_s']} msg/s stored+broadcast; partner latency p50 {result['latency_ms']['p50']} ms, "
            f"p95 {result['latency_ms']['p95']} ms, p99 {result['latency_ms']['p99']} ms; "
            f"max {result['latency_ms']['max']} ms; "
            f"sender ack p50 {result['ack_latency_ms']['p50']} ms, p95 {result['ack_latency_ms']['p95']} ms\n"
            f"server CPU {result['server_cpu_s']} s (by pid {args.server_cpu_by_pid}): "
            f"{result['server_cpu_ms_per_msg']} ms per stored message; "
            f"load average (1 min) {result['loadavg_1min']['start']} at start, "
            f"max {result['loadavg_1min']['max']}, {result['loadavg_1min']['end']} at end"
        )
    for p in problems[:20]:
        print("PROBLEM:", p, file=sys.stderr)
    if problems:
        print(f"FAILED: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print("OK: every message arrived exactly once and in order at the partner; database seq 1..2M per session")
    return 0


if __name__ == "__main__":
    sys.exit(main())
