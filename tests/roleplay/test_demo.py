"""roleplay.demo: higher apps add demo data to seed_demo through registered seeders."""

from io import StringIO

import pytest
from django.core.management import call_command

from roleplay import demo
from roleplay.models import Session

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeders(monkeypatch):
    registry = dict(demo._SEEDERS)
    monkeypatch.setattr(demo, "_SEEDERS", registry)
    return registry


def test_a_registered_seeder_runs_with_the_demo_pair_and_adds_its_summary_lines(seeders):
    calls = []

    def seeder(*, counselor, client, now):
        calls.append((counselor.username, client.username))
        return ["3 things seeded by a test app"]

    demo.demo_seeder_register(name="tests.things", seeder=seeder)
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert calls == [("counselor", "client")]
    assert "  3 things seeded by a test app" in out.getvalue().splitlines()


def test_a_failing_seeder_leaves_nothing_half_seeded(seeders):
    def broken(*, counselor, client, now):
        raise RuntimeError("seeder failed")

    demo.demo_seeder_register(name="tests.broken", seeder=broken)
    with pytest.raises(RuntimeError, match="seeder failed"):
        call_command("seed_demo", stdout=StringIO())
    assert not Session.objects.exists()


def test_registering_the_same_name_again_replaces_the_seeder(seeders):
    demo.demo_seeder_register(name="tests.x", seeder=lambda **kw: ["first"])
    demo.demo_seeder_register(name="tests.x", seeder=lambda **kw: ["second"])
    assert [s(counselor=None, client=None, now=None) for n, s in demo.demo_seeders() if n == "tests.x"] == [["second"]]
