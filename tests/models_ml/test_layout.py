"""models_ml/ is a folder of apps with one job each, layered so that no two import each other."""

import ast
from pathlib import Path

from django.apps import apps
from django.conf import settings

import models_ml

ROOT = Path(models_ml.__file__).parent
# Each app may import only the ones listed before it (its layer or lower).
LAYERS = ["llm", "jobs", "finetuning", "scoring", "practice", "arena", "coaching", "bootstrap"]
ALLOWED = {
    "llm": set(),
    "jobs": {"llm"},
    "finetuning": {"llm", "jobs"},
    "scoring": {"llm", "jobs", "finetuning"},
    "practice": {"llm", "jobs", "finetuning"},
    "arena": {"llm", "jobs", "finetuning", "scoring", "practice"},  # scoring: reproduce_paper's Table 5
    "coaching": {"llm", "jobs", "finetuning", "practice", "scoring"},
    "bootstrap": {"jobs", "finetuning", "scoring"},  # the first-run set-up runs their jobs
}


def _imports(app: str) -> set[str]:
    found = set()
    for path in (ROOT / app).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                parts = name.split(".")
                if parts[0] == "models_ml" and len(parts) > 1 and parts[1] != app:
                    found.add(parts[1])
    return found


def test_ml_apps_import_each_other_one_way_only():
    assert {app: _imports(app) - ALLOWED[app] for app in LAYERS} == {app: set() for app in LAYERS}


def test_models_ml_is_a_folder_of_apps_with_their_old_labels():
    assert "models_ml" not in settings.INSTALLED_APPS and not (ROOT / "models.py").exists()
    labels = {config.name: config.label for config in apps.get_app_configs() if config.name.startswith("models_ml")}
    assert labels == {
        "models_ml.jobs": "jobs",
        "models_ml.scoring": "models_ml",  # tables and migrations of the former top-level app
        "models_ml.finetuning": "partners",
        "models_ml.practice": "practice",
        "models_ml.arena": "arena",
        "models_ml.coaching": "coaching",
        "models_ml.bootstrap": "bootstrap",
    }


def test_no_module_of_the_ml_apps_is_over_500_lines():
    long = {
        str(p.relative_to(ROOT)): n
        for p in ROOT.rglob("*.py")
        if "migrations" not in p.parts and (n := len(p.read_text(encoding="utf-8").splitlines())) > 500
    }
    assert long == {}
