"""Does the project's packaging say the same thing everywhere a fresh machine reads it?"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import tomllib

REPO = Path(__file__).resolve().parents[2]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def _environment_dependencies() -> list[str]:
    """The conda dependencies of environment.yml (a tiny reader: the file is plain YAML lists)."""
    deps, in_deps = [], False
    for line in (REPO / "environment.yml").read_text().splitlines():
        stripped = line.split("#", 1)[0].rstrip()
        if not stripped:
            continue
        if stripped.startswith("dependencies:"):
            in_deps = True
            continue
        if in_deps and re.match(r"^  - [^ ]", stripped) and not stripped.endswith(":"):
            deps.append(stripped[4:].strip())
        elif in_deps and not stripped.startswith(" "):
            in_deps = False
    return deps


def test_environment_yml_lists_exactly_the_runtime_dependencies():
    """Do environment.yml and pyproject.toml name the same runtime packages with the same bounds?"""
    runtime = {_name(r): r.replace(" ", "") for r in _pyproject()["project"]["dependencies"]}
    conda = {
        _name(d): d.replace(" ", "")
        for d in _environment_dependencies()
        if _name(d) not in {"python", "pip"}
    }
    assert conda == runtime, (
        "environment.yml and pyproject.toml disagree; "
        f"only in environment.yml: {sorted(set(conda.items()) - set(runtime.items()))}, "
        f"only in pyproject.toml: {sorted(set(runtime.items()) - set(conda.items()))}"
    )


def test_environment_reader_sees_the_dependencies():
    """The reader above must actually find entries, or the comparison would be vacuous."""
    assert len(_environment_dependencies()) >= 7


@pytest.mark.parametrize("package", ["nnkit", "autograder"])
def test_packages_are_installable(package):
    """Are both packages included in the distribution?"""
    include = _pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]
    assert any(pattern.rstrip("*") == package for pattern in include)
    assert (REPO / package / "__init__.py").is_file()


def test_ci_runs_the_readme_test_command():
    """Does .ci/run run the same test command the README's quick start gives?"""
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    assert "make test" in readme
    assert re.search(r"^make test\b", ci, flags=re.MULTILINE)
    assert "make lab" in readme


def test_packages_never_import_torch():
    """torch is a test oracle only: no module of nnkit or autograder may import it."""
    offenders = [
        str(path.relative_to(REPO))
        for package in ("nnkit", "autograder")
        for path in (REPO / package).rglob("*.py")
        if re.search(r"^\s*(import torch|from torch)", path.read_text(), flags=re.MULTILINE)
    ]
    assert offenders == []
