"""Apps import one way: kokoro_site <- roleplay <- feedback <- models_ml/* (docs/architecture.md).

Every ``.py`` of the apps is parsed with ``ast`` (imports at any depth, lazy ones in functions included,
plus ``ForeignKey("label.Model")`` strings), every template for ``{% load %}``, ``{% include %}``,
``{% extends %}`` and hard ``{% url %}`` links. The tests fail when

* a module imports an app above its own (a lower page shows a higher app's part through a panel slot,
  ``kokoro_site/panels.py``, and demo data through ``roleplay/demo.py``, never by importing it);
* two apps import each other, directly or round a longer circle;
* a roleplay or feedback template loads a higher app's tag library, includes or extends its templates,
  or links to its pages without ``{% url ... as var %}`` (which renders nothing when the app is gone);
* ``models_ml/llm`` (a library) imports Django or any app.

Each ``models_ml/<pkg>/`` package is its own app above feedback (``models_ml/`` modules outside such a
package belong to the top-level ``models_ml`` app while it exists), so the test keeps working when
models_ml is split into more apps. The composition root (``kokoro_site.urls``, ``asgi``, ``wsgi``
and the settings modules) wires every app together and is exempt, but no app may import it (a helper of
the settings package that imports no app, such as ``settings/secrets.py``, may be imported).

The layout inside models_ml (which ML app may import which) is tests/models_ml/test_layout.py's.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BASE_LEVELS = {"kokoro_site": 0, "roleplay": 1, "feedback": 2}
ML = "models_ml"
ML_LEVEL = 3
NOT_APPS = {"management", "migrations", "templatetags", "templates", "static", "locale", "tests"}
# The composition root: exempt from the order (it wires every app), and no app may import it. Helpers that
# live in the settings package (e.g. kokoro_site/settings/secrets.py) import no app and may be imported.
COMPOSITION_ROOT = ("kokoro_site.urls", "kokoro_site.asgi", "kokoro_site.wsgi") + tuple(
    f"kokoro_site.settings.{name}" for name in ("base", "local", "test", "production")
)
SETTINGS_PACKAGE = "kokoro_site.settings"
LIBRARIES = {"models_ml.llm"}  # Django-free: import neither Django nor any app
# Folders of the project-level templates/ that belong to a base app; any other folder belongs to models_ml.
TEMPLATE_FOLDERS = {"roleplay": "roleplay", "registration": "roleplay", "feedback": "feedback", "dataset": "feedback"}

TAG_RE = re.compile(r"{%-?\s*(load|include|extends|url)\s+(.*?)\s*-?%}", re.S)
FIELD_CALLS = {"ForeignKey", "OneToOneField", "ManyToManyField"}


@dataclass
class Graph:
    """Units (apps and libraries), their import edges with where each comes from, and template problems."""

    root: Path
    edges: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    imports: dict[str, list[tuple[str, str]]] = field(
        default_factory=lambda: defaultdict(list)
    )  # unit -> (target, where)

    def unit_of(self, module: str) -> str | None:
        parts = module.split(".")
        if parts[0] in BASE_LEVELS:
            return parts[0]
        if parts[0] != ML:
            return None
        if len(parts) > 1 and parts[1] not in NOT_APPS and (self.root / ML / parts[1] / "__init__.py").exists():
            return f"{ML}.{parts[1]}"
        return ML

    def level(self, unit: str) -> int:
        return BASE_LEVELS.get(unit, ML_LEVEL)


def _within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported(node: ast.AST, package: str) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        base = package.split(".")[: len(package.split(".")) - node.level + 1]
        module = ".".join(base + ([node.module] if node.module else []))
    else:
        module = node.module or ""
    return [f"{module}.{alias.name}" for alias in node.names]


def _app_labels(root: Path, graph: Graph) -> dict[str, str]:
    """Django app label -> unit, from every apps.py (``label`` or the last part of ``name``)."""
    labels = {}
    for path in root.glob("**/apps.py"):
        if ".venv" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            values = {
                t.id: s.value.value
                for s in cls.body
                if isinstance(s, ast.Assign) and isinstance(s.value, ast.Constant)
                for t in s.targets
                if isinstance(t, ast.Name)
            }
            if "name" in values and graph.unit_of(values["name"]):
                labels[values.get("label", values["name"].rsplit(".", 1)[-1])] = graph.unit_of(values["name"])
    return labels


def build_graph(root: Path) -> Graph:
    graph = Graph(root=root)
    files = [p for top in (*BASE_LEVELS, ML) if (root / top).is_dir() for p in sorted((root / top).rglob("*.py"))]
    labels = _app_labels(root, graph)
    for path in files:
        module = _module_name(root, path)
        if _within(module, COMPOSITION_ROOT) or module == SETTINGS_PACKAGE:
            continue
        unit = graph.unit_of(module)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            where = f"{path.relative_to(root)}:{getattr(node, 'lineno', 0)}"
            targets = _imported(node, package)
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", None)) in FIELD_CALLS
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
                and node.args[0].value.count(".") == 1
            ):
                label = node.args[0].value.split(".")[0]
                targets = [labels[label]] if label in labels else []
            for target in targets:
                graph.imports[unit].append((target, where))
                other = graph.unit_of(target)
                if other and other != unit:
                    graph.edges[(unit, other)].append(where)
    return graph


def upward_imports(graph: Graph) -> list[str]:
    return [
        f"{a} (level {graph.level(a)}) imports {b} (level {graph.level(b)}) at {', '.join(where)}"
        for (a, b), where in sorted(graph.edges.items())
        if graph.level(a) < graph.level(b)
    ]


def cycles(graph: Graph) -> list[tuple[str, str, list[str]]]:
    """Each edge a -> b that closes a circle (b reaches a again), with where a imports b."""
    follows: dict[str, set[str]] = defaultdict(set)
    for a, b in graph.edges:
        follows[a].add(b)

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            node = todo.pop()
            if node == goal:
                return True
            if node not in seen:
                seen.add(node)
                todo.extend(follows[node])
        return False

    return [(a, b, where) for (a, b), where in sorted(graph.edges.items()) if reaches(b, a)]


def composition_root_imports(graph: Graph) -> list[str]:
    return [
        f"{unit} imports {target} at {where}"
        for unit, found in sorted(graph.imports.items())
        for target, where in found
        if _within(target, COMPOSITION_ROOT) or target == SETTINGS_PACKAGE
    ]


def library_imports(graph: Graph) -> list[str]:
    return [
        f"{unit} imports {target} at {where}"
        for unit, found in sorted(graph.imports.items())
        if unit in LIBRARIES
        for target, where in found
        if target.split(".")[0] == "django" or (graph.unit_of(target) not in (None, unit))
    ]


# --- templates ------------------------------------------------------------------------------------------------


def _template_sources(root: Path, graph: Graph) -> dict[str, tuple[str, Path]]:
    """Template name -> (owner unit, file): project templates/ by folder, app templates/ by app."""
    found = {}
    project = root / "templates"
    for path in sorted(project.rglob("*.html")) if project.is_dir() else []:
        name = path.relative_to(project).as_posix()
        folder = name.split("/")[0] if "/" in name else None
        owner = (
            "kokoro_site" if folder is None else TEMPLATE_FOLDERS.get(folder, ML if folder == ML else f"{ML}.{folder}")
        )
        found[name] = (owner, path)
    for top in (*BASE_LEVELS, ML):
        for folder in (root / top).rglob("templates") if (root / top).is_dir() else []:
            owner = graph.unit_of(_module_name(root, folder.parent / "__init__.py")) or top
            for path in sorted(folder.rglob("*.html")):
                found.setdefault(path.relative_to(folder).as_posix(), (owner, path))
    return found


def _tag_libraries(root: Path, graph: Graph) -> dict[str, str]:
    libraries = {}
    for top in (*BASE_LEVELS, ML):
        for path in (root / top).rglob("templatetags/*.py") if (root / top).is_dir() else []:
            if path.name != "__init__.py":
                libraries[path.stem] = graph.unit_of(_module_name(root, path))
    return libraries


def _url_namespaces(root: Path, graph: Graph) -> dict[str, str]:
    namespaces = {}
    for top in (*BASE_LEVELS, ML):
        for path in (root / top).rglob("urls*.py") if (root / top).is_dir() else []:
            match = re.search(r"^app_name\s*=\s*[\"'](\w+)[\"']", path.read_text(encoding="utf-8"), re.M)
            if match:
                namespaces[match.group(1)] = graph.unit_of(_module_name(root, path))
    return namespaces


def template_problems(graph: Graph) -> list[str]:
    root = graph.root
    templates = _template_sources(root, graph)
    libraries = _tag_libraries(root, graph)
    namespaces = _url_namespaces(root, graph)
    problems = []
    for owner, path in sorted(templates.values(), key=lambda found: found[1]):
        level = graph.level(owner)
        for tag, args in TAG_RE.findall(path.read_text(encoding="utf-8")):
            words = args.split()
            if tag == "load":
                used = [(lib, libraries.get(lib)) for lib in (words[-1:] if "from" in words else words)]
            elif tag in ("include", "extends") and words and words[0][0] in "\"'":
                used = [(words[0].strip("\"'"), templates.get(words[0].strip("\"'"), (None,))[0])]
            elif tag == "url" and words and ":" in words[0] and "as" not in words[-2:-1] and owner in BASE_LEVELS:
                namespace = words[0].strip("\"'").split(":")[0]
                used = [(words[0], namespaces.get(namespace))] if owner != "kokoro_site" else []
            else:
                used = []
            for target, target_owner in used:
                if target_owner and graph.level(target_owner) > level:
                    problems.append(f"{path.relative_to(root)} ({owner}): {{% {tag} {target} %}} of {target_owner}")
    return problems


# --- the tests --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def graph() -> Graph:
    return build_graph(ROOT)


def test_the_checker_sees_every_app_and_the_known_one_way_imports(graph):
    units = {u for edge in graph.edges for u in edge}
    assert {"kokoro_site", "roleplay", "feedback"} <= units and any(u.startswith(ML) for u in units)
    assert ("feedback", "roleplay") in graph.edges and ("roleplay", "kokoro_site") in graph.edges


def test_no_app_imports_an_app_above_it(graph):
    assert upward_imports(graph) == []


def test_no_two_apps_import_each_other_where_a_base_app_is_involved(graph):
    found = [(a, b, w) for a, b, w in cycles(graph) if not (a.startswith(ML) and b.startswith(ML))]
    assert found == []


def test_no_two_models_ml_apps_import_each_other(graph):
    assert cycles(graph) == []


def test_no_app_imports_the_composition_root(graph):
    assert composition_root_imports(graph) == []


def test_roleplay_and_feedback_templates_use_nothing_of_a_higher_app(graph):
    assert template_problems(graph) == []


def test_models_ml_llm_is_a_library_without_django_or_apps(graph):
    assert (ROOT / ML / "llm").is_dir() and library_imports(graph) == []


# --- the checker itself can fail --------------------------------------------------------------------------------


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


GOOD = {
    "kokoro_site/__init__.py": "",
    "kokoro_site/urls.py": "import models_ml.coach.views\n",  # the composition root may wire anything
    "roleplay/__init__.py": "",
    "roleplay/models.py": "from kokoro_site import errors\n",
    "roleplay/templatetags/panels.py": "",
    "feedback/__init__.py": "",
    "feedback/views.py": "from roleplay.models import Session\nfrom kokoro_site.settings.secrets import secret\n",
    "kokoro_site/settings/__init__.py": "",
    "kokoro_site/settings/base.py": "INSTALLED_APPS = ['models_ml.coach']\nimport models_ml.coach\n",
    "kokoro_site/settings/secrets.py": "import os\n",
    "models_ml/__init__.py": "",
    "models_ml/coach/__init__.py": "",
    "models_ml/coach/apps.py": "class C:\n    name = 'models_ml.coach'\n    label = 'coach'\n",
    "models_ml/coach/views.py": "from feedback import views\nfrom ..jobs import base\n",
    "models_ml/coach/templatetags/coach_tags.py": "",
    "models_ml/coach/urls.py": "app_name = 'coach'\n",
    "models_ml/jobs/__init__.py": "",
    "models_ml/jobs/base.py": "import roleplay.models\n",
    "models_ml/llm/__init__.py": "import json\n",
    "templates/base.html": "{% load static %}{% url 'coach:x' as u %}",
    "templates/roleplay/page.html": "{% extends 'base.html' %}{% load panels %}{% url 'coach:x' as u %}",
    "templates/coach/panel.html": "{% extends 'roleplay/page.html' %}{% load coach_tags %}",
}


def test_a_tree_that_follows_the_order_passes(tmp_path):
    graph = build_graph(_write(tmp_path, GOOD))
    assert ("models_ml.coach", "models_ml.jobs") in graph.edges and ("models_ml.coach", "feedback") in graph.edges
    assert upward_imports(graph) == [] and cycles(graph) == [] and template_problems(graph) == []
    assert library_imports(graph) == [] and composition_root_imports(graph) == []


@pytest.mark.parametrize(
    ("files", "check", "expected"),
    [
        (
            {"roleplay/demo.py": "def f():\n    from feedback import views\n"},
            upward_imports,
            "roleplay (level 1) imports feedback",
        ),
        (
            {"feedback/x.py": "from models_ml.coach.views import v\n"},
            upward_imports,
            "feedback (level 2) imports models_ml.coach",
        ),
        (
            {"kokoro_site/middleware.py": "import roleplay.models\n"},
            upward_imports,
            "kokoro_site (level 0) imports roleplay",
        ),
        (
            {
                "roleplay/models.py": "from django.db import models\nx = models.ForeignKey('coach.Run', on_delete=None)\n"
            },
            upward_imports,
            "roleplay (level 1) imports models_ml.coach (level 3) at roleplay/models.py:2",
        ),
        ({"models_ml/jobs/base.py": "from models_ml.coach import views\n"}, cycles, "models_ml.coach"),
        ({"models_ml/llm/x.py": "from django.conf import settings\n"}, library_imports, "imports django.conf.settings"),
        ({"models_ml/llm/x.py": "from feedback.items import ITEMS\n"}, library_imports, "imports feedback.items.ITEMS"),
        ({"feedback/y.py": "from kokoro_site.urls import urlpatterns\n"}, composition_root_imports, "kokoro_site.urls"),
        ({"feedback/y.py": "from kokoro_site.settings import base\n"}, composition_root_imports, "settings.base"),
        ({"templates/roleplay/d.html": "{% load i18n coach_tags %}"}, template_problems, "{% load coach_tags %}"),
        ({"templates/feedback/d.html": "{% load x from coach_tags %}"}, template_problems, "{% load coach_tags %}"),
        ({"templates/feedback/r.html": '{% include "coach/panel.html" %}'}, template_problems, "coach/panel.html"),
        ({"templates/roleplay/h.html": "{% url 'coach:x' s.pk %}"}, template_problems, "{% url 'coach:x' %}"),
    ],
    ids=[
        "lazy-import-up",
        "feedback-to-ml",
        "site-to-roleplay",
        "foreign-key-up",
        "cycle",
        "llm-django",
        "llm-app",
        "composition-root",
        "settings-module",
        "load",
        "load-from",
        "include",
        "hard-url",
    ],
)
def test_the_checker_reports_each_kind_of_wrong_dependency(tmp_path, files, check, expected):
    graph = build_graph(_write(tmp_path, {**GOOD, **files}))
    found = check(graph)
    assert found and any(expected in str(item) for item in found), found
