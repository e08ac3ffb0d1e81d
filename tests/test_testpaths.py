"""`make test` runs every app's tests: pytest's ``testpaths`` names every folder of the repository that holds
tests (paging's ran only when named by hand, until this test)."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _testpaths() -> set[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return set(config["tool"]["pytest"]["ini_options"]["testpaths"])


def _folders_with_tests() -> set[str]:
    found = set()
    for path in ROOT.glob("*/**/test_*.py"):
        top = path.relative_to(ROOT).parts[0]
        if not top.startswith(".") and top not in {"bench"}:
            found.add(top)
    return found


def test_every_folder_with_tests_is_in_testpaths():
    missing = _folders_with_tests() - _testpaths()
    assert not missing, f"add {sorted(missing)} to testpaths in pyproject.toml: `make test` skips them"


def test_the_search_finds_the_apps():
    assert {"tests", "incidents", "paging"} <= _folders_with_tests()
