"""requirements-dev.lock (what `make setup` and CI install, with hashes) matches the ranges
in requirements.txt / requirements-dev.txt: regenerate it with `make lock` when they change."""

import re

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.conftest import REPO_ROOT

PIN = re.compile(r"^([A-Za-z0-9_.\[\]-]+)==(\S+)")


def _locked() -> dict[str, tuple[Version, int]]:
    """name -> (pinned version, number of hashes)."""
    entries: dict[str, tuple[Version, int]] = {}
    name = None
    for line in (REPO_ROOT / "requirements-dev.lock").read_text().splitlines():
        match = PIN.match(line)
        if match:
            name = canonicalize_name(match.group(1).split("[")[0])
            entries[name] = (Version(match.group(2)), 0)
        elif name and line.strip().startswith("--hash=sha256:"):
            version, hashes = entries[name]
            entries[name] = (version, hashes + 1)
    return entries


def _requirements() -> list[Requirement]:
    found = []
    for path in ("requirements.txt", "requirements-dev.txt"):
        for line in (REPO_ROOT / path).read_text().splitlines():
            line = line.split("#")[0].strip()
            if line and not line.startswith("-"):
                found.append(Requirement(line))
    return found


def test_every_requirement_is_locked_within_its_range():
    locked = _locked()
    for requirement in _requirements():
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{name} is not in requirements-dev.lock: run `make lock`"
        version = locked[name][0]
        assert requirement.specifier.contains(version, prereleases=True) or (
            version.local and requirement.specifier.contains(Version(version.public), prereleases=True)
        ), f"{name} {version} is outside {requirement.specifier}: run `make lock`"


def test_every_locked_package_is_pinned_with_a_hash():
    locked = _locked()
    assert len(locked) > 50
    assert [name for name, (_version, hashes) in locked.items() if hashes == 0] == []
    assert str(locked["torch"][0]).startswith("2.13.0")
