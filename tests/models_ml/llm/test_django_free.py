"""models_ml.llm is a library: no module of it imports Django (configuration is passed in)."""

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import models_ml.llm

LLM_DIR = Path(models_ml.llm.__file__).parent
FORBIDDEN = (
    "django",
    "roleplay",
    "feedback",
    "kokoro_site",
    "models_ml.scoring",
    "models_ml.finetuning",
    "models_ml.practice",
    "models_ml.arena",
    "models_ml.coaching",
    "models_ml.jobs",
)


def _imported_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_no_module_of_the_llm_library_imports_django_or_an_app():
    offenders = {
        str(path.relative_to(LLM_DIR)): sorted(
            n for n in _imported_names(path) if n.split(".")[0] in FORBIDDEN or n.startswith(FORBIDDEN)
        )
        for path in LLM_DIR.rglob("*.py")
    }
    offenders = {k: v for k, v in offenders.items() if v}
    assert offenders == {}


def test_importing_every_llm_module_loads_no_django():
    modules = [m.name for m in pkgutil.walk_packages([str(LLM_DIR)], prefix="models_ml.llm.")]
    assert "models_ml.llm.backends.retrieval" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m == 'django' or m.startswith('django.')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=LLM_DIR.parent.parent
    )
    assert out.stdout.strip() == "[]"
