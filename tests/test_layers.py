"""The layering of the apps, checked on the source: an app uses only the apps below it.

    core <- teams <- incidents <- notifications <- oncall <- paging <- {statuspage, playbooks, postmortems}
         <- integrations <- config

Apps on one level (statuspage, playbooks, postmortems) do not use each other either; ``config`` is the top and
may use anything. "Use" means, in every ``.py`` file under the app's folder (its tests and migrations included):

- an ``import`` or ``from ... import`` anywhere (module level, functions, methods, ``if TYPE_CHECKING``);
- a module named by string: ``importlib.import_module``, ``__import__``, ``import_string``, ``include("x.urls")``;
- a model named by string: ``apps.get_model("x", ...)``, ``apps.get_app_config("x")``, the target of a
  ``ForeignKey`` / ``OneToOneField`` / ``ManyToManyField`` (``"x.Model"``, first argument or ``to=``);
- a Celery task named by string: ``send_task("x.tasks.y")``, ``signature("x.tasks.y")``;
- a URL reversed by a literal name: ``reverse`` / ``reverse_lazy`` / ``redirect`` / ``resolve_url``;
- a template named by a literal path (``"x/page.html"``), e.g. in ``render`` or ``template_name``;

and in the app's templates: ``{% load %}`` of a tag library defined in ``<app>/templatetags/``,
``{% include %}`` / ``{% extends %}`` of another app's template and ``{% url %}`` of another app's URL.

Who owns what: ``templates/<app>/`` and ``templates/admin/<app>/`` (the admin's override convention) belong to
``<app>``, as does ``<app>/templates/``; every other template under ``templates/`` (``base.html``, ``partials/``,
``account/``, ``allauth/``, error pages) belongs to ``core``. A URL belongs to the app whose ``urls.py`` defines
it, found through Django's resolver; a URL of ``config/urls.py`` belongs to the app of its view, and an admin URL
``admin:<label>_<model>_<action>`` to ``<label>``. Django's and third-party modules, tag libraries, templates and
URLs belong to no app and are always allowed. ``tests/`` and ``bench/`` are outside the check.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest
from django.template.base import Lexer, TokenType

BASE_DIR = Path(__file__).resolve().parent.parent

LAYERS: tuple[tuple[str, ...], ...] = (
    ("core",),
    ("teams",),
    ("incidents",),
    ("notifications",),
    ("oncall",),
    ("paging",),
    ("statuspage", "playbooks", "postmortems"),
    ("integrations",),
    ("config",),
)
RANK = {app: level for level, apps in enumerate(LAYERS) for app in apps}
ORDER = " <- ".join(apps[0] if len(apps) == 1 else "{" + ", ".join(apps) + "}" for apps in LAYERS)

# Folders at the top of the repository that hold code but are no app of the layering.
OUTSIDE = {"tests", "bench", "static", "templates", ".venv", ".git", ".ci", "node_modules"}

TEMPLATE_PATH = re.compile(r"[\w-]+(?:/[\w.-]+)+\.(?:html|txt|xml|ics|json|md)")
MODEL_FIELDS = {"ForeignKey", "OneToOneField", "ManyToManyField", "ForeignObject"}
MODULE_LOADERS = {"import_module", "__import__", "import_string"}
TASK_REFERENCES = {"send_task", "signature", "Signature", "subtask"}
URL_REVERSERS = {"reverse", "reverse_lazy", "redirect", "resolve_url"}


def may_use(user: str, used: str | None) -> bool:
    """Whether app ``user`` may use app ``used`` (``None``: no app of ours, e.g. Django or the stdlib)."""
    if used is None or used not in RANK or used == user:
        return True
    return RANK[used] < RANK[user]


def rule(user: str, used: str) -> str:
    where = "on the same level as" if RANK[used] == RANK[user] else "above"
    return f"{used} is {where} {user} in {ORDER}; {user} may use only the apps below it"


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    user: str
    used: str
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.user} uses {self.used} ({self.kind}: {self.detail}): {rule(self.user, self.used)}"


@dataclass(frozen=True)
class Context:
    """What the checker knows of the project: which app defines each tag library and each URL name."""

    tag_libraries: dict[str, str] = field(default_factory=dict)
    url_names: dict[str, str | None] = field(default_factory=dict)

    def url_app(self, name: str) -> str | None:
        if name.startswith("admin:"):
            label = name.removeprefix("admin:").split("_", 1)[0]
            if label in RANK and "_" in name:
                return label
        if name in self.url_names:
            return self.url_names[name]
        namespace = name.split(":", 1)[0] if ":" in name else None
        return namespace if namespace in RANK else None


def module_app(dotted: str | None) -> str | None:
    top = (dotted or "").split(".", 1)[0]
    return top if top in RANK else None


def template_app(name: str) -> str:
    """The app a template belongs to, from its name (its path below a templates folder)."""
    parts = name.strip("/").split("/")
    if len(parts) > 1 and parts[0] in RANK:
        return parts[0]
    if len(parts) > 2 and parts[0] == "admin" and parts[1] in RANK:
        return parts[1]
    return "core"


# --- Python ---------------------------------------------------------------------------------------------


def _call_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _literal(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _argument(call: ast.Call, position: int, keyword: str) -> str | None:
    if len(call.args) > position:
        return _literal(call.args[position])
    for kw in call.keywords:
        if kw.arg == keyword:
            return _literal(kw.value)
    return None


def _package(relpath: str) -> list[str]:
    """The package a module's relative imports start from (a package's ``__init__`` is in its own folder)."""
    return relpath.removesuffix(".py").split("/")[:-1]


def python_references(source: str, relpath: str, context: Context) -> list[tuple[int, str | None, str, str]]:
    """Every (line, app, kind, detail) that the module at ``relpath`` uses."""
    found: list[tuple[int, str | None, str, str]] = []
    tree = ast.parse(source, filename=relpath)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append((node.lineno, module_app(alias.name), "import", f"import {alias.name}"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = _package(relpath)
                base = package[: len(package) - node.level + 1]
                modules = [".".join([*base, *(node.module or "").split(".")]).strip(".")]
                if not node.module:
                    modules = [".".join([*base, alias.name]) for alias in node.names]
            else:
                modules = [node.module or ""]
            text = (
                f"from {'.' * node.level}{node.module or ''} import {', '.join(a.name for a in node.names)}"
            )
            for module in modules:
                found.append((node.lineno, module_app(module), "import", text))
        elif isinstance(node, ast.Call):
            name = _call_name(node.func)
            if name in MODULE_LOADERS or name == "include":
                target = _argument(node, 0, "name" if name != "include" else "arg")
                if target and not target.startswith("."):
                    kind = "url include" if name == "include" else "import by string"
                    found.append((node.lineno, module_app(target), kind, f"{name}({target!r})"))
            elif name in {"get_model", "get_app_config"}:
                label = _argument(node, 0, "app_label")
                if label:
                    found.append(
                        (node.lineno, label.split(".", 1)[0], "model by string", f"{name}({label!r})")
                    )
            elif name in MODEL_FIELDS:
                target = _argument(node, 0, "to")
                if target and "." in target:
                    label = target.split(".", 1)[0]
                    found.append((node.lineno, label, "model by string", f"{name}({target!r})"))
            elif name in TASK_REFERENCES:
                target = _argument(node, 0, "name" if name == "send_task" else "task")
                if target and "." in target:
                    found.append((node.lineno, module_app(target), "task by name", f"{name}({target!r})"))
            elif name in URL_REVERSERS:
                target = _argument(node, 0, "viewname" if name.startswith("reverse") else "to")
                if target:
                    found.append((node.lineno, context.url_app(target), "url reverse", f"{name}({target!r})"))
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and TEMPLATE_PATH.fullmatch(node.value)
        ):
            found.append((node.lineno, template_app(node.value), "template", repr(node.value)))
    return found


def check_python(source: str, relpath: str, app: str, context: Context) -> list[Violation]:
    return [
        Violation(relpath, line, app, used, kind, detail)
        for line, used, kind, detail in python_references(source, relpath, context)
        if not may_use(app, used)
    ]


# --- Templates ------------------------------------------------------------------------------------------


def _unquote(bit: str) -> str | None:
    if len(bit) >= 2 and bit[0] == bit[-1] and bit[0] in "'\"":
        return bit[1:-1]
    return None


def template_references(source: str, context: Context) -> list[tuple[int, str | None, str, str]]:
    found: list[tuple[int, str | None, str, str]] = []
    skip_until = None
    for token in Lexer(source).tokenize():
        if token.token_type != TokenType.BLOCK:
            continue
        bits = token.split_contents()
        if not bits:
            continue
        if skip_until:
            if bits[0] == skip_until:
                skip_until = None
            continue
        if bits[0] in {"comment", "verbatim"}:
            skip_until = "end" + bits[0]
            continue
        tag = f"{{% {token.contents} %}}"
        if bits[0] == "load":
            libraries = bits[-1:] if len(bits) >= 4 and bits[-2] == "from" else bits[1:]
            for library in libraries:
                found.append((token.lineno, context.tag_libraries.get(library), "load", tag))
        elif bits[0] in {"include", "extends"} and len(bits) > 1:
            name = _unquote(bits[1])
            if name:
                found.append((token.lineno, template_app(name), bits[0], tag))
        elif bits[0] == "url" and len(bits) > 1:
            name = _unquote(bits[1])
            if name:
                found.append((token.lineno, context.url_app(name), "url", tag))
    return found


def check_template(source: str, relpath: str, app: str, context: Context) -> list[Violation]:
    return [
        Violation(relpath, line, app, used, kind, detail)
        for line, used, kind, detail in template_references(source, context)
        if not may_use(app, used)
    ]


# --- The project ----------------------------------------------------------------------------------------


def app_folders() -> list[str]:
    """Apps of the table that exist in the repository (as code or as templates), lowest first."""
    present = [
        app
        for app in RANK
        if app != "config" and ((BASE_DIR / app).is_dir() or (BASE_DIR / "templates" / app).is_dir())
    ]
    return sorted(present, key=lambda app: (RANK[app], app))


def _url_names() -> dict[str, str | None]:
    from django.urls import URLPattern, URLResolver, get_resolver

    names: dict[str, str | None] = {}

    def walk(resolver: URLResolver, namespace: str, owner: str | None) -> None:
        for pattern in resolver.url_patterns:
            if isinstance(pattern, URLResolver):
                urlconf = pattern.urlconf_name
                module = urlconf if isinstance(urlconf, str) else getattr(urlconf, "__name__", None)
                inner = module_app(module) if module else owner
                prefix = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                walk(pattern, prefix, inner)
            elif isinstance(pattern, URLPattern) and pattern.name:
                app = owner
                if app in (None, "config"):
                    app = module_app(getattr(pattern.callback, "__module__", None))
                names.setdefault(namespace + pattern.name, app)

    walk(get_resolver(), "", "config")
    return names


@cache
def project_context() -> Context:
    libraries = {
        path.stem: app
        for app in RANK
        for path in sorted((BASE_DIR / app / "templatetags").glob("*.py"))
        if path.stem != "__init__"
    }
    return Context(tag_libraries=libraries, url_names=_url_names())


def _template_owner(path: Path) -> str:
    relative = path.relative_to(BASE_DIR)
    if relative.parts[0] == "templates":
        return template_app("/".join(relative.parts[1:]))
    return relative.parts[0]


@cache
def project_violations() -> tuple[Violation, ...]:
    context = project_context()
    found: list[Violation] = []
    for app in app_folders():
        for path in sorted((BASE_DIR / app).rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            relpath = path.relative_to(BASE_DIR).as_posix()
            found += check_python(path.read_text(encoding="utf-8"), relpath, app, context)
    template_files = [*(BASE_DIR / "templates").rglob("*")]
    for app in app_folders():
        template_files += (BASE_DIR / app / "templates").rglob("*")
    for path in sorted(template_files):
        if path.is_file() and "__pycache__" not in path.parts:
            relpath = path.relative_to(BASE_DIR).as_posix()
            found += check_template(path.read_text(encoding="utf-8"), relpath, _template_owner(path), context)
    return tuple(found)


@pytest.mark.parametrize("app", app_folders())
def test_app_uses_only_the_apps_below_it(app):
    violations = [v for v in project_violations() if v.user == app]
    assert not violations, f"{len(violations)} use(s) of a higher app by {app}:\n" + "\n".join(
        map(str, violations)
    )


def test_every_app_has_a_place_in_the_layering():
    apps = sorted(
        path.parent.name
        for path in BASE_DIR.glob("*/apps.py")
        if path.parent.name not in OUTSIDE and not path.parent.name.startswith(".")
    )
    assert apps, "no app found: the checker looks in the wrong folder"
    assert [app for app in apps if app not in RANK] == []


def test_project_context_maps_tag_libraries_and_urls_to_their_apps():
    context = project_context()
    assert context.tag_libraries["muster"] == "core"
    assert context.tag_libraries["notify_web"] == "notifications"
    assert context.tag_libraries["paging_tags"] == "paging"
    assert context.url_app("incidents:dashboard") == "incidents"
    assert context.url_app("oncall:index") == "oncall"
    assert context.url_app("paging:pages") == "paging"
    assert context.url_app("api-page-detail") == "paging"
    assert context.url_app("admin:paging_page_changelist") == "paging"
    assert context.url_app("teams:list") == "teams"
    assert context.url_app("api-team-detail") == "teams"
    assert context.url_app("healthz") == "core"
    assert context.url_app("admin:incidents_incident_changelist") == "incidents"
    assert context.url_app("admin:index") is None
    assert context.url_app("account_logout") is None


# --- The checker can fail -------------------------------------------------------------------------------

SYNTHETIC = Context(
    tag_libraries={"oncall_tags": "oncall", "notify": "notifications", "muster": "core"},
    url_names={
        "oncall:index": "oncall",
        "teams:list": "teams",
        "api-page-list": "oncall",
        "admin:index": None,
    },
)


def _found(violations: list[Violation]) -> list[tuple[int, str, str]]:
    return [(v.line, v.used, v.kind) for v in violations]


def test_checker_reports_every_python_use_of_a_higher_app():
    source = """\
from typing import TYPE_CHECKING
import oncall.models
from oncall.services import page_create

if TYPE_CHECKING:
    from notifications.models import Message


def later():
    from oncall import selectors
    return importlib.import_module("oncall.tasks")


class Thing(models.Model):
    page = models.ForeignKey("oncall.Page", on_delete=models.CASCADE)
    other = models.OneToOneField(on_delete=models.CASCADE, to="notifications.message")

    def method(self):
        import paging.services
        apps.get_model("oncall", "Rotation")
        celery_app.send_task("oncall.tasks.page_escalate")
        signature("notifications.tasks.deliver")
        return reverse("oncall:index"), reverse_lazy("api-page-list"), redirect("oncall:team")


def view(request):
    return render(request, "oncall/index.html")
"""
    found = _found(check_python(source, "incidents/things.py", "incidents", SYNTHETIC))
    assert sorted(found) == [
        (2, "oncall", "import"),
        (3, "oncall", "import"),
        (6, "notifications", "import"),
        (10, "oncall", "import"),
        (11, "oncall", "import by string"),
        (15, "oncall", "model by string"),
        (16, "notifications", "model by string"),
        (19, "paging", "import"),
        (20, "oncall", "model by string"),
        (21, "oncall", "task by name"),
        (22, "notifications", "task by name"),
        (23, "oncall", "url reverse"),
        (23, "oncall", "url reverse"),
        (23, "oncall", "url reverse"),
        (27, "oncall", "template"),
    ]


def test_checker_allows_what_is_below_and_what_is_no_app_of_ours():
    source = """\
import django
from django.db import models
from core.errors import NotFound
from teams.models import Team
from incidents import services
from .models import Message
from . import selectors
from .api.serializers import MessageSerializer


class Rule(models.Model):
    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE)
    parent = models.ForeignKey("self", on_delete=models.CASCADE)
    incident = models.ForeignKey(to="incidents.Incident", on_delete=models.CASCADE)


def view(request):
    importlib.import_module(".channels.slack", package=__package__)
    apps.get_model("incidents", "Incident")
    reverse("teams:list")
    reverse("admin:index")
    reverse("admin:incidents_incident_changelist")
    render(request, "notifications/web/health.html")
    render(request, "partials/field.html")
    return "see oncall/index.html for the page"
"""
    assert check_python(source, "notifications/rules.py", "notifications", SYNTHETIC) == []


def test_checker_resolves_relative_imports_to_their_app():
    assert _found(
        check_python("from ..oncall import models\n", "incidents/x.py", "incidents", SYNTHETIC)
    ) == [(1, "oncall", "import")]
    assert (
        check_python("from ..models import Incident\n", "incidents/api/views.py", "incidents", SYNTHETIC)
        == []
    )


def test_checker_reports_apps_of_one_level_using_each_other_and_allows_config_everything():
    found = _found(
        check_python("from postmortems.models import Postmortem\n", "playbooks/x.py", "playbooks", SYNTHETIC)
    )
    assert found == [(1, "postmortems", "import")]
    assert _found(
        check_python("from config import celery_app\n", "oncall/tasks.py", "oncall", SYNTHETIC)
    ) == [(1, "config", "import")]
    assert check_python("import integrations, statuspage\n", "config/urls.py", "config", SYNTHETIC) == []
    assert check_python("import paging.models\n", "integrations/x.py", "integrations", SYNTHETIC) == []
    assert _found(check_python("import paging.models\n", "oncall/x.py", "oncall", SYNTHETIC)) == [
        (1, "paging", "import")
    ]


def test_checker_reports_every_template_use_of_a_higher_app():
    source = """\
{% extends 'oncall/base.html' %}
{% load static oncall_tags %}
{% load humanize %}{% load shift_cell from oncall_tags %}
{% include "oncall/x.html" %}
{% include "notifications/web/panel.html" with incident=incident only %}
<a href="{% url "oncall:index" %}">On call</a> <a href="{% url 'admin:notifications_message_changelist' %}">
{% comment %}{% include "oncall/hidden.html" %}{% endcomment %}{# {% url "oncall:index" %} #}
"""
    found = _found(check_template(source, "templates/incidents/detail.html", "incidents", SYNTHETIC))
    assert found == [
        (1, "oncall", "extends"),
        (2, "oncall", "load"),
        (3, "oncall", "load"),
        (4, "oncall", "include"),
        (5, "notifications", "include"),
        (6, "oncall", "url"),
        (6, "notifications", "url"),
    ]


def test_checker_allows_templates_below_and_outside():
    source = """\
{% extends "base.html" %}{% load static muster humanize %}
{% include "partials/field.html" %}{% include "incidents/partials/header.html" %}{% include template_var %}
<a href="{% url 'teams:list' %}">Teams</a><a href="{% url 'admin:index' %}"></a><a href="{% url next %}"></a>
"""
    assert check_template(source, "templates/incidents/detail.html", "incidents", SYNTHETIC) == []


def test_templates_belong_to_the_app_of_their_folder():
    assert template_app("incidents/detail.html") == "incidents"
    assert template_app("admin/notifications/message/change_list.html") == "notifications"
    assert template_app("admin/base_site.html") == "core"
    assert template_app("base.html") == "core"
    assert template_app("partials/field.html") == "core"
    assert template_app("account/login.html") == "core"
    found = _found(
        check_template('{% include "incidents/x.html" %}', "templates/base.html", "core", SYNTHETIC)
    )
    assert found == [(1, "incidents", "include")]


def test_violation_says_where_who_what_and_the_rule():
    (violation,) = check_python("\n\nimport oncall.models\n", "incidents/views.py", "incidents", SYNTHETIC)
    message = str(violation)
    assert message.startswith("incidents/views.py:3: incidents uses oncall (import: import oncall.models): ")
    assert "oncall is above incidents in core <- teams <- incidents <- notifications <- oncall" in message
    (same_level,) = check_python("import playbooks\n", "postmortems/x.py", "postmortems", SYNTHETIC)
    assert "playbooks is on the same level as postmortems" in str(same_level)
