"""Embedded mode (SQLite): concurrent write transactions wait for each other instead of
failing with "database is locked" (a 503 page) — WAL, a busy timeout and BEGIN IMMEDIATE."""

import json
import os
import subprocess
import sys

from tests.conftest import REPO_ROOT

# Six threads each read, pause, then write inside one transaction: with deferred transactions
# SQLite refuses the read-to-write upgrade at once ("database is locked"), whatever the timeout.
SCRIPT = """
import json, threading, time
import django
django.setup()
from django.db import connection, connections, transaction

with connection.cursor() as c:
    c.execute("CREATE TABLE IF NOT EXISTS t (n integer)")
errors, barrier = [], threading.Barrier(6)

def writer(i):
    try:
        barrier.wait()
        with transaction.atomic():
            with connection.cursor() as c:
                c.execute("SELECT count(*) FROM t")
                time.sleep(0.2)
                c.execute("INSERT INTO t VALUES (%s)", [i])
    except Exception as exc:
        errors.append(repr(exc))
    finally:
        connections.close_all()

threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
[t.start() for t in threads]
[t.join() for t in threads]
with connection.cursor() as c:
    c.execute("SELECT count(*) FROM t")
    rows = c.fetchone()[0]
print(json.dumps({"errors": errors, "rows": rows}))
"""


def test_six_concurrent_write_transactions_on_sqlite_all_succeed(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DJANGO_SETTINGS_MODULE="kokoro_site.settings.local", DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3")
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome == {"errors": [], "rows": 6}
