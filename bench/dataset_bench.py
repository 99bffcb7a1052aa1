"""Benchmark of the dataset commands on PostgreSQL: import, export and dataset_stats.

Each command runs as a subprocess under ``/usr/bin/time`` (wall time, peak RSS), on 25 %,
50 % and 100 % of the published dialogues. Imported data is removed before each size, so use
a dedicated database::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kokoro_dataset \\
        python bench/dataset_bench.py [--dir /work/shared/kokorochat/kokorochat_dialogues] [--sizes 25,50,100]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = Path(os.environ.get("KOKOROCHAT_DIR", ROOT.parent / "shared" / "kokorochat" / "kokorochat_dialogues"))


def _django():
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kokoro_site.settings.local")
    import django

    django.setup()


def reset_imported() -> None:
    """Delete imported sessions, their messages/feedback and the pseudonymous accounts."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from feedback.dataset.importer import USERNAME_PREFIX
    from feedback.models import ExportAudit, Feedback
    from roleplay.models import Message, Profile, Session, SessionSource

    sessions = Session.objects.filter(source=SessionSource.IMPORTED)
    messages = Message.objects.filter(session__in=sessions)
    messages._raw_delete(messages.db)
    Feedback.objects.filter(session__in=sessions).delete()
    sessions.delete()
    users = Profile.objects.filter(user__username__startswith=USERNAME_PREFIX).values_list("user_id")
    get_user_model().objects.filter(pk__in=users).delete()
    ExportAudit.objects.filter(channel="command").delete()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE") if connection.vendor == "postgresql" else None


def timed(args: list[str]) -> dict:
    out = subprocess.run(
        ["/usr/bin/time", "-f", "__TIME__ %e %M", sys.executable, "manage.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    line = next(x for x in out.stderr.splitlines() if x.startswith("__TIME__"))
    _, wall, rss_kb = line.split()
    if out.returncode != 0:
        raise SystemExit(f"{args[0]} failed:\n{out.stdout}\n{out.stderr}")
    return {"wall_s": float(wall), "peak_rss_mb": round(int(rss_kb) / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--sizes", default="25,50,100", help="percentages of the dialogues")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("set DATABASE_URL to a dedicated PostgreSQL database")
    _django()
    files = sorted(args.dir.glob("*.json"), key=lambda p: int(p.stem) if p.stem.isdigit() else 0)
    results = []
    for pct in (int(x) for x in args.sizes.split(",")):
        n = round(len(files) * pct / 100)
        reset_imported()
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "src"
            src.mkdir()
            for f in files[:n]:
                (src / f.name).symlink_to(f)
            row = {"percent": pct, "dialogues": n}
            row["import"] = timed(["import_kokorochat", str(src), "--quiet"])
            row["export"] = timed(["export_kokorochat", str(Path(tmp) / "out")])
            row["export_zip"] = timed(["export_kokorochat", str(Path(tmp) / "out.zip"), "--format", "zip"])
            row["stats"] = timed(["dataset_stats", "--json"])
            results.append(row)
            print(json.dumps(row), flush=True)
    print()
    print("| dialogues | import s / MB | export folder s / MB | export zip s / MB | dataset_stats s / MB |")
    print("|---|---|---|---|---|")
    for r in results:
        cells = [
            f"{r[k]['wall_s']:.1f} / {r[k]['peak_rss_mb']:.0f}" for k in ("import", "export", "export_zip", "stats")
        ]
        print(f"| {r['dialogues']} ({r['percent']} %) | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
