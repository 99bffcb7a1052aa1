"""The per-process model cache: one load per key whoever asks, LRU by memory, concurrent asks load once."""

import threading
import time

from models_ml.jobs.cache import ModelCache, cached_backend, config_key, model_cache


class Model:
    def __init__(self, name: str, size: int) -> None:
        self.name, self.size = name, size

    def memory_bytes(self) -> int:
        return self.size


def test_a_key_is_loaded_once_and_then_served_from_the_cache():
    cache = ModelCache(budget_bytes=1000)
    first = cache.get("a", lambda: Model("a", 10))
    again = cache.get("a", lambda: Model("other", 10))
    assert again is first and cache.loads == 1


def test_least_recently_used_models_are_dropped_beyond_the_memory_budget():
    cache = ModelCache(budget_bytes=250)
    cache.get("a", lambda: Model("a", 100))
    cache.get("b", lambda: Model("b", 100))
    cache.get("a", lambda: Model("a", 100))  # a is now the most recently used
    cache.get("c", lambda: Model("c", 100))  # 300 > 250: b goes
    assert cache.keys() == ["a", "c"] and cache.total_bytes == 200


def test_a_model_bigger_than_the_budget_is_still_kept_alone():
    cache = ModelCache(budget_bytes=50)
    cache.get("small", lambda: Model("small", 10))
    big = cache.get("big", lambda: Model("big", 500))
    assert cache.keys() == ["big"] and cache.get("big", lambda: None) is big


def test_a_lazily_loaded_model_counts_once_it_has_grown():
    cache = ModelCache(budget_bytes=150)
    lazy = cache.get("lazy", lambda: Model("lazy", 0))
    cache.get("other", lambda: Model("other", 100))
    lazy.size = 100  # an hf model loads its weights on first use
    cache.get("other", lambda: None)
    assert cache.keys() == ["other"]


def test_two_threads_asking_for_the_same_model_load_it_once():
    cache = ModelCache(budget_bytes=10**9)
    calls = []

    def slow_load():
        calls.append(1)
        time.sleep(0.2)
        return Model("x", 1)

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get("x", slow_load))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len({id(r) for r in results}) == 1


def test_config_keys_are_stable_and_do_not_show_secrets():
    a = config_key({"backend": "openai", "model": "m", "api_key": "sk-secret"})
    b = config_key({"api_key": "sk-secret", "model": "m", "backend": "openai"})
    assert a == b and a.startswith("openai:") and "sk-secret" not in a
    assert config_key({"backend": "openai", "model": "m", "api_key": "other"}) != a


def test_every_app_gets_the_same_backend_instance_for_one_configuration(tmp_path):
    from models_ml.llm.backends.retrieval import RetrievalBackend
    from tests.models_ml.llm.conftest import make_record

    path = RetrievalBackend.from_records([make_record(i, 80) for i in range(3)]).save(tmp_path / "i.joblib")
    model_cache().clear()
    config = {"backend": "retrieval", "index_path": str(path)}
    loads = model_cache().loads
    first = cached_backend(dict(config))
    second = cached_backend(dict(config))
    assert first is second and model_cache().loads == loads + 1
    assert first.memory_bytes() > 0
    model_cache().clear()


def test_practice_coaching_arena_and_the_llm_scorer_share_the_cache():
    """The apps' own caches are gone: each asks models_ml.jobs.cache (static check of the call sites)."""
    from pathlib import Path

    import models_ml

    root = Path(models_ml.__file__).parent
    for app in ("arena", "coaching", "practice"):
        source = "\n".join(p.read_text(encoding="utf-8") for p in (root / app).rglob("*.py"))
        assert "cached_backend(" in source, app
        assert "get_backend(config)" not in source and "_backend_cache" not in source, app
    scorer = (root / "scoring" / "llm_scorer.py").read_text(encoding="utf-8")
    assert "cached_backend(config)" in scorer and "get_backend(" not in scorer
