"""Every row lock in the project names what it locks, and every write service is retried on contention.

``select_for_update()`` with ``select_related`` locks the joined rows too (the role holder's ``auth_user`` row,
a consumer run's event and incident), which is how notes and role changes deadlocked. The order the locks are
taken in is documented in ``core/db.py``.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP = {".venv", "tests", "bench", "node_modules", ".git"}


def project_modules():
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if relative.parts[0] in SKIP or "tests" in relative.parts or "migrations" in relative.parts:
            continue
        yield relative.as_posix(), ast.parse(path.read_text(), filename=str(relative))


def calls_named(tree, name):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == name:
            yield node


def test_every_select_for_update_names_what_it_locks():
    unnamed = [
        f"{module}:{call.lineno}"
        for module, tree in project_modules()
        for call in calls_named(tree, "select_for_update")
        if not any(keyword.arg == "of" for keyword in call.keywords)
    ]
    assert unnamed == [], f"select_for_update without of=: {unnamed}"


def test_the_check_sees_the_locks_that_exist():
    found = [module for module, tree in project_modules() if any(calls_named(tree, "select_for_update"))]
    assert "incidents/services.py" in found and "notifications/services.py" in found


def test_write_services_use_the_retrying_atomic():
    """A service module's decorated writes use ``core.db.atomic``, not a bare ``transaction.atomic``."""
    bare = []
    for module, tree in project_modules():
        if not module.endswith("services.py"):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for decorator in node.decorator_list:
                    target = decorator.func if isinstance(decorator, ast.Call) else decorator
                    if ast.unparse(target) == "transaction.atomic":
                        bare.append(f"{module}:{node.name}")
    assert bare == [], f"use core.db.atomic (retried on deadlock) for: {bare}"


def _locks_incident_rows(call: ast.Call) -> bool:
    """``Incident.objects....select_for_update(...)``: the chain the call ends starts at ``Incident``."""
    node = call.func.value
    while isinstance(node, ast.Call | ast.Attribute):
        node = node.func if isinstance(node, ast.Call) else node.value
    return isinstance(node, ast.Name) and node.id == "Incident"


def test_the_incident_row_is_locked_in_one_place():
    """Every app takes the incident's row through ``incidents.services.incident_lock`` (the core's ``_lock``), so
    the lock is the same everywhere (``no_key=True``, the incident first)."""
    places = [
        f"{module}:{call.lineno}"
        for module, tree in project_modules()
        for call in calls_named(tree, "select_for_update")
        if _locks_incident_rows(call)
    ]
    assert len(places) == 1 and places[0].startswith("incidents/services.py:"), places


def test_the_incident_lock_check_sees_a_chain_that_starts_at_incident():
    call = ast.parse('Incident.objects.select_for_update(of=("self",)).filter(pk=1)').body[0].value.func.value
    other = ast.parse('Page.objects.select_for_update(of=("self",))').body[0].value
    assert _locks_incident_rows(call) and not _locks_incident_rows(other)
