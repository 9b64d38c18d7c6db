"""Helpers for the lesson tests: solution functions, in-process grading, a real nbgrader course.

* :func:`solution_functions` executes the answer cells of a solution notebook and returns the
  namespace (the instructor's reference answers, as a student would have them).
* :func:`grade` runs parts through the same code path a test cell uses and returns
  ``{part: (passed, message)}``.
* The session fixture ``autograded`` builds a temporary nbgrader course from the repository's
  configuration and lessons, submits, per lesson, the solution, the untouched release, some
  wrong submissions and a hostile one, runs ``nbgrader autograde`` once per lesson (all
  students in one process) and exposes scores and outputs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

import nnkit
from autograder import framework

REPO = Path(__file__).resolve().parents[2]
# Every lesson with a source notebook and a manifest (later lessons join automatically).
LESSONS = sorted(
    d.name
    for d in (REPO / "solutions").iterdir()
    if (d / f"{d.name}.ipynb").exists() and framework.manifest(d.name)
)


def notebook_path(kind: str, lesson: str) -> Path:
    return REPO / kind / lesson / f"{lesson}.ipynb"


def read_nb(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def cell_source(cell: dict) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def nbgrader_meta(cell: dict) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


_NS_CACHE: dict[str, dict] = {}


def solution_functions(lesson: str) -> dict:
    """The namespace after running every answer cell of ``solutions/<lesson>``."""
    if lesson not in _NS_CACHE:
        ns: dict = {"np": np, "nnkit": nnkit}
        for cell in read_nb(notebook_path("solutions", lesson))["cells"]:
            if nbgrader_meta(cell).get("solution"):
                exec(cell_source(cell), ns)
        _NS_CACHE[lesson] = ns
    return dict(_NS_CACHE[lesson])


def parts_of(function: str) -> list[framework.Part]:
    return [p for p in framework.MANIFEST if p.function == function]


def grade(function: str, fn, companions: tuple = (), parts: list[str] | None = None) -> dict:
    """``{part: (passed, message)}`` for the parts of ``function`` (all of them by default)."""
    out = {}
    for p in parts_of(function):
        if parts is None or p.part in parts:
            ok, message, _hints = framework._run_part(p, fn, companions)
            out[p.part] = (ok, message)
    return out


def companions_for(function: str, lesson: str) -> tuple:
    ns = solution_functions(lesson)
    return tuple(ns[c] for c in framework.SPECS[function].companions)


def assert_wrong(
    function: str,
    lesson: str,
    fn,
    phrase: str,
    part: str | None = None,
    companions: tuple | None = None,
    parts: list[str] | None = None,
) -> None:
    """``fn`` must fail some part of ``function`` and a failing message must contain ``phrase``."""
    if companions is None:
        companions = companions_for(function, lesson)
    results = grade(function, fn, companions, parts)
    failed = {p: m for p, (ok, m) in results.items() if not ok}
    assert failed, f"a wrong {function} passed every part"
    if part is not None:
        assert part in failed, f"part {part!r} passed; failed: {sorted(failed)}"
        messages = [failed[part]]
    else:
        messages = list(failed.values())
    assert any(phrase.lower() in m.lower() for m in messages), (
        f"no failing message of {function} mentions {phrase!r}:\n" + "\n".join(messages)
    )


def assert_correct(function: str, lesson: str, fn, companions: tuple | None = None) -> None:
    """``fn`` must pass every part of ``function``."""
    if companions is None:
        companions = companions_for(function, lesson)
    results = grade(function, fn, companions)
    failed = {p: m for p, (ok, m) in results.items() if not ok}
    assert not failed, f"a correct {function} failed: {failed}"


# --------------------------------------------------------------------------------------------
# A real nbgrader course


def replace_answer(nb: dict, grade_id: str, source: str) -> dict:
    nb = json.loads(json.dumps(nb))
    for cell in nb["cells"]:
        if nbgrader_meta(cell).get("grade_id") == grade_id:
            cell["source"] = source
            return nb
    raise KeyError(grade_id)


def nbgrader_env(home: Path) -> dict:
    env = dict(os.environ)
    env.update(
        HOME=str(home),
        IPYTHONDIR=str(home / ".ipython"),
        JUPYTER_CONFIG_DIR=str(home / ".jupyter"),
        JUPYTER_DATA_DIR=str(home / ".local/share/jupyter"),
        MPLCONFIGDIR=str(home / ".mpl"),
        MPLBACKEND="Agg",
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    )
    return env


def nbgrader(args: list[str], course: Path, env: dict) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("nbgrader")
    return subprocess.run(
        [str(exe), *args], cwd=course, env=env, capture_output=True, text=True, timeout=600
    )


def make_course(root: Path) -> Path:
    """A course folder with the repository's configuration and solutions (nothing released)."""
    course = root / "course"
    (course / "autograder").mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", course / "nbgrader_config.py")
    shutil.copy(REPO / "autograder" / "nbgrader_config.py", course / "autograder")
    shutil.copytree(REPO / "solutions", course / "solutions")
    return course


def submit(course: Path, student: str, lesson: str, nb: dict) -> None:
    folder = course / "submitted" / student / lesson
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{lesson}.ipynb").write_text(json.dumps(nb), encoding="utf-8")


def read_grades(course: Path, env: dict) -> dict[tuple[str, str], float]:
    done = nbgrader(["export"], course, env)
    assert done.returncode == 0, done.stderr
    grades = {}
    lines = (course / "grades.csv").read_text().splitlines()
    header = lines[0].split(",")
    for line in lines[1:]:
        row = dict(zip(header, line.split(","), strict=True))
        grades[(row["assignment"], row["student_id"])] = float(row["score"])
    return grades


def cell_outputs(course: Path, student: str, lesson: str) -> dict[str, list[dict]]:
    nb = read_nb(course / "autograded" / student / lesson / f"{lesson}.ipynb")
    return {
        nbgrader_meta(c).get("grade_id") or c.get("id"): c.get("outputs", [])
        for c in nb["cells"]
        if c["cell_type"] == "code"
    }


def output_text(outputs: list[dict]) -> str:
    parts = []
    for o in outputs:
        if o["output_type"] == "stream":
            parts.append("".join(o["text"]) if isinstance(o["text"], list) else o["text"])
        elif o["output_type"] == "error":
            parts.append("\n".join(o["traceback"]))
    return "\n".join(parts)


def around_traceback(stderr: str) -> str:
    """The part of a log from its first traceback on (what a failure message should show)."""
    start = stderr.find("Traceback")
    return stderr[max(0, start - 300) : start + 2700] if start >= 0 else stderr[-3000:]
