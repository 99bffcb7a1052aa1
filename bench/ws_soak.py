"""WebSocket soak test: N sessions chatting at a steady pace for a long time (services mode).

Reuses ``bench/ws_load.py``'s setup (fresh users, live sessions, Django login cookies). Both
sides of every session send one message every ``--interval`` seconds (each waits for its ack)
for ``--duration`` seconds. Every ``--sample`` seconds it records the RSS of the server process
(``--server-pid``, default: whoever listens on the URL's port) and, per wall-clock minute, the
send->partner latency p50/p99. At the end it checks zero loss / duplicate / reorder at every
socket and seq 1..N in the database for every session. Exit status 1 on any problem.

Example:
    KOKORO_CHAT_RATE_LIMIT=100000 DATABASE_URL=... REDIS_URL=... daphne -p 8109 kokoro_site.asgi:application &
    DATABASE_URL=... python bench/ws_soak.py --sessions 20 --interval 2 --duration 600 --url ws://127.0.0.1:8109
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ws_load  # (also sets DJANGO_SETTINGS_MODULE and sys.path)


@dataclass
class SoakSide:
    session_id: int
    role: str
    partner_role: str
    cookie: str
    sent: int = 0
    acks: dict[str, int] = field(default_factory=dict)
    received: list[dict] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)


SENT_AT: dict[str, float] = {}
LATENCIES: list[tuple[float, float]] = []  # (seconds since start, latency s)


def server_pid(url: str) -> int | None:
    import psutil

    port = urlparse(url).port
    for conn in psutil.net_connections(kind="tcp"):
        if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN and conn.pid:
            return conn.pid
    return None


def rss_mib(pid: int | None) -> float | None:
    import psutil

    if pid is None:
        return None
    try:
        return round(psutil.Process(pid).memory_info().rss / 2**20, 1)
    except psutil.Error:
        return None


async def run_side(side: SoakSide, args, t0: float, stop_at: float) -> None:
    ws = await ws_load.open_socket(args.url, side.session_id, side.cookie, args.origin, HANDSHAKES, open_timeout=60)
    async with ws:
        acked = asyncio.Event()

        async def reader() -> None:
            async for raw in ws:
                frame = json.loads(raw)
                kind = frame.get("type")
                if kind == "message":
                    side.received.append(frame)
                    sent = SENT_AT.pop(frame.get("client_msg_id") or "", None)
                    if sent is not None:
                        now = time.perf_counter()
                        LATENCIES.append((now - t0, now - sent))
                elif kind == "ack":
                    side.acks[frame["client_msg_id"]] = frame["seq"]
                    acked.set()
                elif kind == "error":
                    side.errors.append(frame)
                    acked.set()

        read_task = asyncio.create_task(reader())
        await asyncio.sleep(random.uniform(0, args.interval))
        while time.perf_counter() < stop_at:
            cid = f"{side.session_id}-{side.role}-{side.sent}"
            acked.clear()
            SENT_AT[cid] = time.perf_counter()
            await ws.send(
                json.dumps({"type": "message", "text": f"耐久試験 {side.role} {side.sent}", "client_msg_id": cid})
            )
            side.sent += 1
            await asyncio.wait_for(acked.wait(), args.timeout)
            await asyncio.sleep(args.interval)
        await asyncio.sleep(args.drain)  # let the partner's last frames arrive
        read_task.cancel()


HANDSHAKES: asyncio.Semaphore


def verify(side: SoakSide, partner_sent: int) -> list[str]:
    where = f"{side.session_id}/{side.role}"
    problems = []
    ids = [f["client_msg_id"] for f in side.received]
    want = [f"{side.session_id}-{side.partner_role}-{i}" for i in range(partner_sent)]
    if ids != want:
        problems.append(f"{where}: partner frames {len(ids)} vs {len(want)} sent (loss/duplicate/reorder)")
    seqs = [f["seq"] for f in side.received]
    if seqs != sorted(seqs) or len(set(seqs)) != len(seqs):
        problems.append(f"{where}: partner seqs out of order or duplicated")
    if len(side.acks) != side.sent:
        problems.append(f"{where}: {side.sent} sent but {len(side.acks)} acked")
    if side.errors:
        problems.append(f"{where}: error frames {side.errors[:2]}")
    return problems


async def sampler(pid: int | None, t0: float, stop: asyncio.Event, every: float, out: list) -> None:
    while True:
        out.append((round(time.perf_counter() - t0, 1), rss_mib(pid)))
        try:
            await asyncio.wait_for(stop.wait(), every)
            out.append((round(time.perf_counter() - t0, 1), rss_mib(pid)))
            return
        except TimeoutError:
            pass


async def main_async(args, sessions) -> tuple[list[SoakSide], list, float]:
    global HANDSHAKES
    HANDSHAKES = asyncio.Semaphore(20)
    sides = []
    for sid, c_cookie, k_cookie in sessions:
        sides += [SoakSide(sid, "counselor", "client", c_cookie), SoakSide(sid, "client", "counselor", k_cookie)]
    pid = args.server_pid or server_pid(args.url)
    rss: list = []
    t0 = time.perf_counter()
    stop = asyncio.Event()
    sample_task = asyncio.create_task(sampler(pid, t0, stop, args.sample, rss))
    results = await asyncio.gather(*(run_side(s, args, t0, t0 + args.duration) for s in sides), return_exceptions=True)
    stop.set()
    await sample_task
    for side, result in zip(sides, results, strict=True):
        if isinstance(result, BaseException):
            side.errors.append({"exception": repr(result)})
    return sides, rss, time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between a side's messages")
    parser.add_argument("--duration", type=float, default=600.0)
    parser.add_argument("--sample", type=float, default=60.0, help="seconds between RSS samples")
    parser.add_argument("--drain", type=float, default=5.0)
    parser.add_argument("--timeout", type=float, default=60.0, help="max wait for one ack")
    parser.add_argument("--url", default="ws://127.0.0.1:8109")
    parser.add_argument("--origin", default=None)
    parser.add_argument("--server-pid", type=int, default=None)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    args.origin = args.origin or args.url.replace("ws://", "http://").replace("wss://", "https://")

    run = uuid.uuid4().hex[:8]
    sessions = ws_load.setup_sessions(args.sessions, run)
    try:
        sides, rss, elapsed = asyncio.run(main_async(args, sessions))
        sent = {(s.session_id, s.role): s.sent for s in sides}
        problems = [p for s in sides for p in verify(s, sent[(s.session_id, s.partner_role)])]
        for sid, *_ in sessions:
            total = sent[(sid, "counselor")] + sent[(sid, "client")]
            problems += ws_load.check_database([sid], total)
    finally:
        if not args.keep:
            try:
                ws_load.cleanup(run, sessions)
            except Exception as exc:
                print(f"warning: cleanup failed ({exc!r})", file=sys.stderr)
    per_minute: dict[int, list[float]] = {}
    for at, lat in LATENCIES:
        per_minute.setdefault(int(at // 60), []).append(lat * 1000)
    total_sent = sum(s.sent for s in sides)
    result = {
        "sessions": args.sessions,
        "sockets": len(sides),
        "duration_s": round(elapsed, 1),
        "messages": total_sent,
        "messages_per_s": round(total_sent / elapsed, 1),
        "latency_ms_per_minute": {
            m: {"n": len(v), "p50": round(ws_load.pct(v, 50), 1), "p99": round(ws_load.pct(v, 99), 1)}
            for m, v in sorted(per_minute.items())
        },
        "latency_ms_overall": {
            "p50": round(ws_load.pct([x[1] * 1000 for x in LATENCIES], 50), 1),
            "p99": round(ws_load.pct([x[1] * 1000 for x in LATENCIES], 99), 1),
        },
        "server_rss_mib": rss,
        "problems": len(problems),
    }
    print(json.dumps(result, indent=1))
    for p in problems[:20]:
        print("PROBLEM:", p, file=sys.stderr)
    if problems:
        print(f"FAILED: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print("OK: no loss, duplicate or reorder at any socket; database seq 1..N for every session")
    return 0


if __name__ == "__main__":
    sys.exit(main())
