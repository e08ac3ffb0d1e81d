"""The apps depend on each other one way only:

    core <- teams <- incidents <- notifications <- oncall <- paging <- {statuspage, playbooks, postmortems}
         <- integrations

An app may import, load the template tags of, include or extend the templates of, and reverse the URLs of the apps
below it, never of an app above it or beside it. This test reads every module of every app (imports inside functions
included, ``import_module("...")`` and lazy model references such as ``"oncall.Page"`` too) and every template
(``{% load %}``, ``{% include %}``, ``{% extends %}``, ``{% url %}``), and fails with the file and line of each step
the wrong way. An app's own tests belong to the app. ``config`` (the top) and ``tests``/``bench`` are not checked.

Templates belong to the app of their first folder (``templates/oncall/...`` is on-call's); the templates at the
root (``base.html``, ``partials/``, ``account/``, ``admin/`` ...) belong to ``core``; ``templates/admin/<app>/``
overrides belong to ``<app>``.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

LAYERS: list[set[str]] = [
    {"core"},
    {"teams"},
    {"incidents"},
    {"notifications"},
    {"oncall"},
    {"paging"},
    {"statuspage", "playbooks", "postmortems"},
    {"integrations"},
]
RANK = {app: level for level, apps in enumerate(LAYERS) for app in apps}
APPS = sorted(RANK)


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    app: str
    target: str
    how: str

    def __str__(self) -> str:
        return (
            f"{self.path}:{self.line}: {self.app} {self.how} {self.target}, "
            f"which is {'beside' if RANK[self.target] == RANK[self.app] else 'above'} it"
        )


def allowed(app: str, target: str) -> bool:
    if target == app or target not in RANK:
        return True
    return RANK[target] < RANK[app]


# --- Python ---------------------------------------------------------------------------------------------------

LAZY_MODEL = re.compile(r"^([a-z_]+)\.[A-Z]\w*$")


def _top(name: str) -> str:
    return name.split(".", 1)[0]


def python_references(source: str) -> list[tuple[int, str, str]]:
    """(line, referenced app, how) for each import-like reference in the module ``source``."""
    found: list[tuple[int, str, str]] = []
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, _top(alias.name), "imports") for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, _top(node.module), "imports"))
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            args = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            if name in ("import_module", "__import__") and args:
                found.append((node.lineno, _top(args[0]), "imports"))
            elif name == "get_model" and args:
                found.append((node.lineno, _top(args[0]), "loads a model of"))
            elif (
                name in ("ForeignKey", "OneToOneField", "ManyToManyField")
                and args
                and LAZY_MODEL.match(args[0])
            ):
                found.append((node.lineno, LAZY_MODEL.match(args[0]).group(1), "points a relation at"))
            elif name in ("reverse", "reverse_lazy", "redirect") and args and ":" in args[0]:
                found.append((node.lineno, args[0].split(":", 1)[0], "links to"))
            elif name in ("send_task", "signature") and args and "." in args[0]:
                found.append((node.lineno, _top(args[0]), "calls a task of"))
    return found


# --- Templates ------------------------------------------------------------------------------------------------

TAG = re.compile(r"{%-?\s*(load|include|extends|url)\s+(.*?)\s*-?%}", re.S)
QUOTED = re.compile(r"""^["']([^"']+)["']""")


def tag_libraries() -> dict[str, str]:
    """Template tag library name -> the app that defines it."""
    libraries = {}
    for app in APPS:
        for module in (ROOT / app / "templatetags").glob("*.py"):
            if module.stem != "__init__":
                libraries[module.stem] = app
    return libraries


def url_namespaces() -> dict[str, str]:
    """URL namespace -> app, from each app's ``app_name``."""
    namespaces = {}
    for app in APPS:
        for urls in list((ROOT / app).glob("urls.py")) + list((ROOT / app).glob("*/urls.py")):
            match = re.search(r"""^app_name\s*=\s*["']([\w-]+)["']""", urls.read_text(), re.M)
            if match:
                namespaces[match.group(1)] = app
    return namespaces


def template_app(relative: str) -> str | None:
    """The app a template path (``oncall/x.html``) belongs to; None for another project's (allauth, django)."""
    parts = relative.split("/")
    if parts[0] == "admin" and len(parts) > 2 and parts[1] in RANK:
        return parts[1]
    return parts[0] if parts[0] in RANK else None


def template_references(text: str, libraries: dict[str, str], namespaces: dict[str, str]):
    found = []
    for match in TAG.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        tag, rest = match.group(1), match.group(2)
        if tag == "load":
            names = rest.split(" from ")[-1].split() if " from " in rest else rest.split()
            found += [(line, libraries[n], "loads the template tags of") for n in names if n in libraries]
            continue
        quoted = QUOTED.match(rest)
        if not quoted:
            continue  # a variable: resolved at run time (registries)
        value = quoted.group(1)
        if tag in ("include", "extends"):
            target = template_app(value)
            if target:
                found.append((line, target, f"{tag}s a template of"))
        elif tag == "url" and ":" in value:
            namespace = value.split(":", 1)[0]
            if namespace in namespaces:
                found.append((line, namespaces[namespace], "links to"))
    return found


# --- The check ------------------------------------------------------------------------------------------------


def app_violations(app: str) -> list[Violation]:
    violations = []
    folder = ROOT / app
    for module in sorted(folder.rglob("*.py")):
        rel = module.relative_to(ROOT).as_posix()
        for line, target, how in python_references(module.read_text()):
            if not allowed(app, target):
                violations.append(Violation(rel, line, app, target, how))
    libraries, namespaces = tag_libraries(), url_namespaces()
    template_dirs = [ROOT / "templates"] + [p for p in (folder / "templates",) if p.exists()]
    for base in template_dirs:
        for template in sorted(p for p in base.rglob("*") if p.is_file()):
            relative = template.relative_to(base).as_posix()
            owner = template_app(relative) or "core" if base == ROOT / "templates" else app
            if owner != app:
                continue
            text = template.read_text(errors="replace")
            for line, target, how in template_references(text, libraries, namespaces):
                if not allowed(app, target):
                    violations.append(
                        Violation(template.relative_to(ROOT).as_posix(), line, app, target, how)
                    )
    return violations


@pytest.mark.parametrize("app", [a for a in APPS if (ROOT / a).is_dir()])
def test_no_app_reaches_above_itself(app):
    violations = app_violations(app)
    assert not violations, "\n".join(str(v) for v in violations)


# --- The checker can fail -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("import oncall.models\n", "oncall"),
        ("from notifications.services import x\n", "notifications"),
        ("def f():\n    from paging import services\n", "paging"),
        ("if TYPE_CHECKING:\n    from oncall.models import Schedule\n", "oncall"),
        ("importlib.import_module('oncall.selectors')\n", "oncall"),
        ("apps.get_model('notifications', 'Message')\n", "notifications"),
        ("x = models.ForeignKey('oncall.Schedule', on_delete=CASCADE)\n", "oncall"),
        ("reverse('oncall:index')\n", "oncall"),
    ],
)
def test_the_checker_sees_every_kind_of_python_reference(source, target):
    refs = python_references(source)
    assert target in {t for _line, t, _how in refs}
    assert not allowed("incidents", target)


def test_the_checker_lets_an_app_use_what_is_below_it():
    refs = python_references("from core.errors import X\nfrom teams.models import Team\n")
    assert {t for _l, t, _h in refs} == {"core", "teams"}
    assert all(allowed("incidents", t) for _l, t, _h in refs)
    assert not allowed("statuspage", "playbooks")  # beside: not allowed either


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("{% load oncall_tags %}", "oncall"),
        ("{% load muster notify_web %}", "notifications"),
        ('{% include "oncall/paging/slot.html" %}', "oncall"),
        ("{% extends 'notifications/web/base.html' %}", "notifications"),
        ('{% url "oncall:team" team.slug %}', "oncall"),
    ],
)
def test_the_checker_sees_every_kind_of_template_reference(text, target):
    refs = template_references(text, tag_libraries(), url_namespaces())
    assert target in {t for _l, t, _h in refs}


def test_a_template_slot_or_variable_include_is_not_a_reference():
    text = '{% slot "incident.main" incident %}{% include entry.template %}{% url "incidents:list" %}'
    refs = template_references(text, tag_libraries(), url_namespaces())
    assert {t for _l, t, _h in refs} == {"incidents"}
