"""Shared fixtures.

Services: a test that needs PostgreSQL, Redis or the published dataset skips with the
reason outside CI, and fails when ``CI`` is set (CI must exercise the real parts).
"""

import os
from pathlib import Path

import pytest
from django.conf import settings

REPO_ROOT = Path(__file__).resolve().parent.parent
KOKOROCHAT_DIR = Path(
    os.environ.get("KOKOROCHAT_DIR", REPO_ROOT.parent / "shared" / "kokorochat" / "kokorochat_dialogues")
)
MULTILINGUAL_EN_DIR = Path(
    os.environ.get(
        "KOKOROCHAT_MULTILINGUAL_EN_DIR", REPO_ROOT.parent / "shared" / "multilingual-kokorochat" / "English"
    )
)
IN_CI = bool(os.environ.get("CI"))


@pytest.fixture(autouse=True)
def _site_language_per_test():
    """Every test starts in the site's default language and leaves none active: a test that activates English
    (a page crawl, an English client) must not change what ``str(ERR_...)`` gives in the tests after it."""
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.deactivate()


def require(condition: bool, reason: str) -> None:
    """Skip outside CI, fail inside CI, when a needed service or data set is missing."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI is set but {reason}")
    pytest.skip(reason)


def uses_postgres() -> bool:
    return settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


def uses_redis() -> bool:
    return bool(settings.REDIS_URL)


@pytest.fixture
def postgres_required():
    require(uses_postgres(), "PostgreSQL is not configured (set DATABASE_URL)")


@pytest.fixture
def redis_required():
    require(uses_redis(), "Redis is not configured (set REDIS_URL)")


@pytest.fixture(scope="session")
def kokorochat_dir() -> Path:
    require(
        KOKOROCHAT_DIR.is_dir() and any(KOKOROCHAT_DIR.glob("*.json")),
        f"the published KokoroChat folder is missing at {KOKOROCHAT_DIR}",
    )
    return KOKOROCHAT_DIR


@pytest.fixture(scope="session")
def multilingual_en_dir() -> Path:
    require(
        MULTILINGUAL_EN_DIR.is_dir() and any(MULTILINGUAL_EN_DIR.glob("en*.json")),
        f"the Multilingual KokoroChat English folder is missing at {MULTILINGUAL_EN_DIR}",
    )
    return MULTILINGUAL_EN_DIR


@pytest.fixture(autouse=True)
def _ci_services_present(request):
    """In CI the suite runs against PostgreSQL and Redis; a missing one is a failure."""
    if IN_CI and request.node.get_closest_marker("redis"):
        require(uses_redis(), "Redis is not configured (set REDIS_URL)")
    if IN_CI and request.node.get_closest_marker("postgres"):
        require(uses_postgres(), "PostgreSQL is not configured (set DATABASE_URL)")


@pytest.fixture(autouse=True)
def _media_and_artifacts(tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.KOKORO_ARTIFACTS_DIR = tmp_path / "artifacts"


@pytest.fixture(autouse=True)
def _reset_axes_cache():
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(scope="session", autouse=True)
def _close_leaked_db_connections(django_db_setup, django_db_blocker):
    """Worker threads (consumers' database_sync_to_async, live servers) may still hold a
    connection when the run ends; close them so the test database can be dropped."""
    yield
    if not uses_postgres():
        return
    from django.db import OperationalError, connection

    try:
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
    except OperationalError:  # no test of this run used the database: it was never created
        return


@pytest.fixture(scope="session", autouse=True)
def _empty_broker_queues():
    """A Redis broker keeps messages across runs: stale tasks from an earlier run (with ids of
    sessions that mean something else now) must not reach this run's real workers."""
    if not uses_redis():
        return
    from kokoro_site.celery import app

    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for queue in ("default", "gpu"):
            try:
                channel.queue_purge(queue)
            except Exception:  # a queue that was never declared has nothing to purge
                pass


@pytest.fixture
async def layer():
    """A fresh, empty channel layer per async test.

    channels-redis binds its pools to the event loop that first used them, and every async test
    has its own loop: build the layer anew and close it afterwards.
    """
    from asgiref.sync import sync_to_async
    from channels import DEFAULT_CHANNEL_LAYER
    from channels.layers import channel_layers, get_channel_layer

    from roleplay import loop_store

    channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)
    channel_layer = get_channel_layer()
    await channel_layer.flush()
    yield channel_layer
    await sync_to_async(loop_store.close_all)()  # this loop's connections, before the test database goes
    await channel_layer.flush()
    if hasattr(channel_layer, "close_pools"):
        await channel_layer.close_pools()
    channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)


@pytest.fixture
def keep_active_language():
    """Requests with the English cookie activate English in this thread (LocaleMiddleware): undo it."""
    from django.utils import translation

    before = translation.get_language()
    yield
    translation.activate(before)
