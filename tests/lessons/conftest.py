"""Make ``lesson_helpers`` importable from the tests of this folder (importlib import mode)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


import pytest
from lesson_helpers import make_course, nbgrader, nbgrader_env


@pytest.fixture(scope="session")
def fresh_course(tmp_path_factory):
    """A course with the repository's configuration and solutions, all lessons freshly released."""
    root = tmp_path_factory.mktemp("nbgrader")
    course = make_course(root)
    env = nbgrader_env(root / "home")
    done = nbgrader(["generate_assignment", "*", "--force"], course, env)
    assert done.returncode == 0, done.stdout + done.stderr
    return course, env
