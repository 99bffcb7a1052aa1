"""Demo data hooks of ``manage.py seed_demo``.

The command (in roleplay) creates the demo accounts, a live session and a scheduled one. Apps above
roleplay add their own demo data by registering a seeder in their ``AppConfig.ready()``::

    demo_seeder_register(name="feedback.rated_sessions", seeder=demo_rated_sessions_seed)

A seeder is called inside the command's transaction with the demo pair and the time, must be
idempotent (the command runs on every ``make run``) and returns the lines it wants in the summary.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser

# seeder(counselor=..., client=..., now=...) -> summary lines
DemoSeeder = Callable[..., list[str]]

_SEEDERS: dict[str, DemoSeeder] = {}


def demo_seeder_register(*, name: str, seeder: DemoSeeder) -> None:
    """Add (or replace, by ``name``) a seeder; seeders run in registration (= INSTALLED_APPS) order."""
    _SEEDERS[name] = seeder


def demo_seeders() -> list[tuple[str, DemoSeeder]]:
    return list(_SEEDERS.items())


def demo_seeders_run(*, counselor: AbstractBaseUser, client: AbstractBaseUser, now: datetime) -> list[str]:
    lines: list[str] = []
    for _name, seeder in demo_seeders():
        lines.extend(seeder(counselor=counselor, client=client, now=now))
    return lines
