"""The layout a newcomer relies on: a URL leads to its package, its templates sit in the folder of
that name, areas meet only through the floors below them, and tests share helpers through a
module of their own. Each check reads the real app or the real source, so moving a view, a
template or an import to the wrong place fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "hospital_app"
# The areas: one package per URL prefix, each with its views (and forms, queries…).
AREAS = (
    "accounts",
    "audit",
    "auth",
    "dashboard",
    "entry",
    "followup",
    "hospitals",
    "reminders",
    "reports",
    "review",
    "settings",
    "timeliness",
)
# Pages whose path names no collection: the package is said here, once.
NAMED = {
    "/": "dashboard",
    "/login": "auth",
    "/logout": "auth",
    "/account/password": "auth",  # one's own password: a sign-in page
    "/healthz": "system",
}


def expected_package(rule) -> str:
    if rule.endpoint == "static":
        return "flask"
    if rule.endpoint.startswith("legacy."):
        return "legacy"  # the permanent redirects of old addresses, listed in one module
    if rule.rule in NAMED:
        return NAMED[rule.rule]
    collections = [part for part in rule.rule.split("/") if part in AREAS]
    assert collections, f"{rule.rule} names no area: add it to NAMED or rename it"
    return collections[-1]


def test_every_url_is_served_by_the_package_its_path_names(app):
    wrong = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        module = view.__module__.split(".")
        package = module[1] if module[0] == "hospital_app" else module[0]
        if package != expected_package(rule):
            wrong.append(f"{rule.rule} is served by {view.__module__}.{view.__name__}")
    assert not wrong, "\n".join(wrong)
    # The check saw every area's pages, not an empty map.
    served = {expected_package(rule) for rule in app.url_map.iter_rules()}
    assert set(AREAS) | {"system", "legacy"} <= served


def test_blueprints_are_named_after_their_packages(app):
    for name, blueprint in app.blueprints.items():
        assert blueprint.import_name.split(".")[1] == name, blueprint.import_name


def test_templates_sit_in_the_folder_of_their_package():
    folders = {p.name for p in (ROOT / "templates").iterdir() if p.is_dir()}
    # errors/: the app's error pages (errors.py); the rest: one per area.
    assert folders == set(AREAS) | {"errors"}
    rendered = []
    for area in AREAS:
        for module in (APP / area).glob("*.py"):
            for call in _calls(module, "render_template"):
                name = call.args[0].value
                rendered.append(name)
                assert name.split("/")[0] in (area, "errors"), f"{module.name}: {name}"
    assert len(rendered) > 20


def _calls(module: Path, function: str):
    for node in ast.walk(ast.parse(module.read_text())):
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", None) == function
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            yield node


def _imports(module: Path) -> list[str]:
    """The hospital_app modules `module` imports, as dotted names."""
    package = ".".join(module.relative_to(ROOT).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            found += [base] + [f"{base}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
    return [name for name in found if name.startswith("hospital_app")]


APP_MODULES = sorted(APP.rglob("*.py"))


@pytest.mark.parametrize("module", APP_MODULES, ids=lambda p: str(p.relative_to(APP)))
def test_areas_meet_only_through_the_floors_below_them(module):
    """No module of one area imports another area's views or forms; a module outside the
    areas (a floor: rules, models, web, policy…) imports no area's views or forms at all."""
    parts = module.relative_to(APP).parts
    own = parts[0] if len(parts) > 1 else None
    for name in _imports(module):
        pieces = name.split(".")
        if len(pieces) >= 3 and pieces[1] in AREAS and pieces[2] in ("views", "forms"):
            assert pieces[1] == own or (module.name == "__init__.py" and own is None), (
                f"{module.relative_to(ROOT)} imports {name}"
            )


FLOORS = [
    APP / f"{name}.py"
    for name in (
        "charts",
        "config",
        "conflicts",
        "csvfiles",
        "database",
        "extensions",
        "mail",
        "models",
        "outliers",
        "password_entry",
        "policy",
        "report_entry",
        "rules",
        "saving",
        "security",
        "templating",
        "web",
    )
]


@pytest.mark.parametrize("module", FLOORS, ids=lambda p: p.name)
def test_low_modules_stay_low(module):
    """The floors import no area at all: the areas stand on them, not the other way round."""
    areas = {
        name
        for name in _imports(module)
        if len(name.split(".")) > 1 and name.split(".")[1] in AREAS
    }
    assert not areas, f"{module.name} imports {sorted(areas)}"


def test_the_import_check_sees_imports():
    """The checks above would pass on a module whose imports they failed to read."""
    names = _imports(APP / "reports" / "views.py")
    assert "hospital_app.reports.forms" in names
    assert "hospital_app.hospitals.queries" in names
    assert "hospital_app.policy" in names


TEST_FILES = sorted((ROOT / "tests").rglob("test_*.py"))


@pytest.mark.parametrize("module", TEST_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_test_files_share_helpers_only_through_helper_modules(module):
    for node in ast.walk(ast.parse(module.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            last = name.split(".")[-1]
            assert last != "conftest" and not last.startswith("test_"), (
                f"{module.name} imports {name}: shared helpers belong in tests/helpers.py"
            )
