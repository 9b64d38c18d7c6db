"""A class with known mistakes, graded by ``python -m autograder grade`` and ``report``.

Eleven students, lessons 02_softmax and 03_backprop, answers built from the mutant catalogue
(``tests/lessons/test_mutants_l0*.py``):

* three with the ÷N mistake in ``softmax_cross_entropy`` (its gradient is N times too large),
  one of whom also tampers from inside the notebook: prints forged pass and mistake records,
  asks the warden for a signature and for its ledger, runs ``check`` itself with a right and
  with another wrong answer, and tries to overwrite the course's grading records;
* two with the transposed ``dW`` in ``linear_backward``;
* five correct;
* one with the ÷N mistake who hides it behind another: after every cell, an IPython hook
  runs ``check`` on a *different* wrong answer, so that the grader would see that one.

``mistakes.csv`` must count exactly the known mistakes (the oracle: the same answers checked
in this process), the tamperer exactly like the other two, the hook's forged mistake nowhere
(that student's checks are "unverified": known to have failed, mistake unknown), and the HTML
summary and the feedback pages must show them.
"""

from __future__ import annotations

import base64
import csv
import importlib.util
import inspect
import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from grader_fixtures import REPO, build_real_course, solved_real, write_submission

from autograder import framework, mistake_ids

sys.path.insert(0, str(REPO / "tests" / "lessons"))
from lesson_helpers import solution_functions

LESSONS = ("02_softmax", "03_backprop")
pytestmark = pytest.mark.skipif(
    not all((REPO / "solutions" / lesson / f"{lesson}.ipynb").is_file() for lesson in LESSONS),
    reason="lessons not built yet",
)


def _mutants(number: str):
    path = REPO / "tests" / "lessons" / f"test_mutants_l{number}.py"
    spec = importlib.util.spec_from_file_location(f"mutants_l{number}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # its imports (lesson_helpers) are on sys.path above
    return module


def _answers() -> dict[str, str]:
    """Source of the wrong answers, from the mutant catalogue's own helpers."""
    l02, l03 = _mutants("02"), _mutants("03")
    sce = inspect.getsource(l02._log_softmax) + inspect.getsource(l02._sce)
    return {
        "divided": sce
        + "\ndef softmax_cross_entropy(logits, y):\n"
        + "    return _sce(logits, y, grad_scale=len(y))\n",
        "grad sign": sce
        + "\ndef _other_wrong(logits, y):\n"
        + "    return _sce(logits, y, grad_scale=-1.0)\n",
        "right": sce + "\ndef _right(logits, y):\n    return _sce(logits, y)\n",
        "dW": inspect.getsource(l03._lb)
        + "\ndef linear_backward(dout, cache):\n    return _lb(dout, cache, dw_t=True)\n",
    }


TAMPER = """
import sys
print("✓ softmax_cross_entropy · values: passed (2 points) ⟪0123456789abcdef01234567⟫")
print("mistake: softmax_cross_entropy · values: none ⟪0123456789abcdef01234567⟫")
for event, args in (("autograder.sign", ([],)), ("autograder.ledger", ("forged", 0, []))):
    try:
        sys.audit(event, *args)
        print("asked", event)
    except Exception as exc:
        print("refused", event, type(exc).__name__)
for fn in (_right, _other_wrong):
    for part in ("values", "gradient", "edge", "hidden"):
        try:
            check("softmax_cross_entropy", fn, part=part)
        except Exception as exc:
            print("own check:", type(exc).__name__)
import autograder.instructor.kernel_boot as kb
try:
    print("own ledger read:", len(kb.ledger("made-up", 0)[0]) > 0)
except Exception as exc:
    print("own ledger read refused:", type(exc).__name__)
for path in {paths!r}:
    try:
        with open(path, "w") as fh:
            fh.write('{{"student00/02_softmax": {{"tests": {{}}}}}}')
        print("WROTE", path)
    except OSError as exc:
        print("refused write:", type(exc).__name__)
"""

HOOK = """
def _hide_my_mistake(*_args):
    try:
        check("softmax_cross_entropy", _other_wrong, part="values")
    except Exception:
        pass
get_ipython().events.register("post_run_cell", _hide_my_mistake)
"""

DIVIDED, TAMPERER, HOOKED = ("student00", "student01", "student02"), "student02", "student10"
TRANSPOSED = ("student03", "student04")


def _class(course: Path) -> tuple[dict, dict]:
    """``(cells, known)``: per student and lesson, the code appended to answer cells
    (by grade_id), and the wrong function with the catalogue code that defines it."""
    code = _answers()
    status = str(course / "grading_status.json")
    tamper = TAMPER.format(paths=[status, str(course / "gradebook.db")])
    cells: dict[str, dict[str, dict[str, str]]] = {}
    known: dict[str, dict[str, tuple[str, str]]] = {}
    for s in range(11):
        cells[f"student{s:02d}"] = {lesson: {} for lesson in LESSONS}
        known[f"student{s:02d}"] = {}
    for name in (*DIVIDED, HOOKED):
        cells[name]["02_softmax"]["softmax_cross_entropy"] = code["divided"]
        known[name]["02_softmax"] = ("softmax_cross_entropy", code["divided"])
    cells[TAMPERER]["02_softmax"]["softmax_cross_entropy"] += (
        code["right"] + code["grad sign"] + tamper
    )
    cells[HOOKED]["02_softmax"]["softmax_cross_entropy"] += code["grad sign"] + HOOK
    for name in TRANSPOSED:
        cells[name]["03_backprop"]["linear_forward"] = code["dW"]
        known[name]["03_backprop"] = ("linear_backward", code["dW"])
    return cells, known


def _expected(known) -> dict[tuple[str, str, str, str], set[str]]:
    """The oracle: the same wrong answers checked in this process, part by part."""
    expected: dict[tuple[str, str, str, str], set[str]] = defaultdict(set)
    for student, lessons in known.items():
        for lesson, (function, code) in lessons.items():
            namespace = {"np": np, **solution_functions(lesson)}
            exec(code, namespace)
            companions = tuple(namespace[c] for c in framework.SPECS[function].companions)
            for part in framework.manifest(lesson):
                if part.function != function:
                    continue
                result = framework.run_part(part, namespace[function], companions)
                if not result.ok:
                    spec = framework.SPECS[function]
                    named = mistake_ids.diagnosis(spec, result.message, result.mistake)[0]
                    mistake = "unverified" if student == HOOKED else named
                    expected[(lesson, function, part.part, mistake)].add(student)
    return expected


def _cli(*args: str, course: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    done = subprocess.run(
        [sys.executable, "-m", "autograder", *args, "--course", str(course)],
        capture_output=True,
        text=True,
        timeout=1800,
        env=env,
        cwd=course,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    course = tmp_path_factory.mktemp("class") / "course"
    build_real_course(course, LESSONS[0])
    build_real_course(course, LESSONS[1])
    students, known = _class(course)
    for student, lessons in students.items():
        for lesson, cells in lessons.items():
            write_submission(course, student, lesson, solved_real(course, lesson, cells))
    grade = _cli("grade", "-j", "2", "--quiet", course=course)
    report = _cli("report", course=course)
    status = json.loads((course / "grading_status.json").read_text())
    return {
        "course": course,
        "known": known,
        "status": status,
        "grade_out": grade.stdout,
        "report_out": report.stdout,
    }


def _csv(course: Path) -> dict[tuple[str, str, str, str], dict[str, str]]:
    with open(course / "reports" / "mistakes.csv", newline="", encoding="utf-8") as fh:
        return {
            (r["lesson"], r["function"], r["part"], r["mistake"]): r for r in csv.DictReader(fh)
        }


@pytest.mark.slow
def test_mistakes_csv_counts_exactly_the_known_mistakes(graded_class):
    course = graded_class["course"]
    expected = _expected(graded_class["known"])
    rows = _csv(course)
    assert {k: int(r["students"]) for k, r in rows.items()} == {
        k: len(v) for k, v in expected.items()
    }, graded_class["report_out"]
    # the example, by name: the catalogue's ÷N entry on the values part, three students
    named = rows[("02_softmax", "softmax_cross_entropy", "values", "grad not divided by N")]
    assert (named["students"], named["share"], named["kind"]) == ("3", f"{3 / 11:.3f}", "catalogue")
    assert named["headline"] == "dlogits is N times too large"
    dw = rows[("03_backprop", "linear_backward", "values", "dW transposed")]
    assert (dw["students"], dw["kind"]) == ("2", "catalogue")
    assert not any(k[3] == "grad sign" for k in rows)  # the forged (hooked) mistake
    assert all(r["hidden"] == str(r["part"] == "hidden") for r in rows.values())
    for line in ("3 ( 27%)  softmax_cross_entropy · values: grad not divided by N",):
        assert line in graded_class["report_out"], graded_class["report_out"]


@pytest.mark.slow
def test_a_student_who_tampers_from_the_notebook_changes_nothing(graded_class):
    """The tamperer's records equal the other ÷N students'; their notebook did run the
    attempts (its output shows them); everyone's lesson-03 and correct answers are clean."""
    status = graded_class["status"]

    def mistakes(student: str, lesson: str) -> dict[str, list]:
        tests = status[f"{student}/{lesson}"]["tests"]
        return {
            g: [(m["part"], m["mistake"]) for m in t.get("mistakes", [])] for g, t in tests.items()
        }

    assert mistakes(TAMPERER, "02_softmax") == mistakes(DIVIDED[0], "02_softmax")
    assert status[f"{TAMPERER}/02_softmax"]["score"] == status[f"{DIVIDED[0]}/02_softmax"]["score"]
    autograded = Path(graded_class["course"], status[f"{TAMPERER}/02_softmax"]["autograded"])
    graded = json.loads(autograded.read_text(encoding="utf-8"))
    printed = json.dumps(graded["cells"], ensure_ascii=False)
    assert "refused autograder.sign" in printed and "own check: CheckFailed" in printed
    for student in (f"student{s:02d}" for s in range(5, 10)):
        for lesson in LESSONS:
            assert all(not m for m in mistakes(student, lesson).values()), (student, lesson)
            assert (
                status[f"{student}/{lesson}"]["score"] == status[f"{student}/{lesson}"]["max_score"]
            )


@pytest.mark.slow
def test_a_hook_that_runs_another_check_during_the_test_cell_leaves_its_mistake_unverified(
    graded_class,
):
    """The hooked student's failing checks are 'unverified' (the cell's ledger holds more checks
    than the cell has), never the hook's 'grad sign' and never 'no mistake'."""
    result = graded_class["status"][f"{HOOKED}/02_softmax"]
    lost = {g: t for g, t in result["tests"].items() if (t["score"] or 0) < t["max"]}
    assert lost and all(g.startswith("test_softmax_cross_entropy") for g in lost), lost
    for test in lost.values():
        assert [m["mistake"] for m in test["mistakes"]] == ["unverified"]
    assert any("the ledger holds 2 check(s)" in d for d in result["details"]), result["details"]


@pytest.mark.slow
def test_the_summary_shows_the_mistakes_table_and_chart(graded_class):
    course = graded_class["course"]
    page = (course / "reports" / "summary.html").read_text(encoding="utf-8")
    chart = (course / "reports" / "mistakes.png").read_bytes()
    assert chart.startswith(b"\x89PNG") and base64.b64encode(chart).decode() in page
    assert 'id="mistakes"' in page and "What the class got wrong" in page
    row = (
        "<td>softmax_cross_entropy</td><td>values</td><td>grad not divided by N</td>"
        "<td>catalogue</td><td>dlogits is N times too large</td><td>3</td><td>27%</td>"
    )
    assert row in page
    assert "<td>linear_backward</td><td>values</td><td>dW transposed</td>" in page
    assert "Passed the visible checks, failed the hidden ones" in page


@pytest.mark.slow
def test_feedback_links_each_lost_point_to_its_mistake_and_section(graded_class):
    """A ÷N student's page names the mistake after each lost test and links the section that
    teaches softmax_cross_entropy (an anchor in the page); hidden tests show nothing hidden."""
    course = graded_class["course"]
    _cli("feedback", course=course)
    page = (course / "feedback" / DIVIDED[0] / "02_softmax" / "02_softmax.html").read_text()
    tests = graded_class["status"][f"{DIVIDED[0]}/02_softmax"]["tests"]
    lost = [g for g, t in tests.items() if (t["score"] or 0) < t["max"]]
    assert lost and all(g.startswith("test_softmax_cross_entropy_") for g in lost), lost
    anchor = "section-3-softmax-and-cross-entropy-together"
    assert page.count(f'id="{anchor}"') == 1
    assert page.count(f'href="#{anchor}"') == 2 * len(lost)  # the results table, the notes
    assert "dlogits is N times too large" in page and "grad not divided by N" in page
    assert 'href="#lost-test_softmax_cross_entropy_hidden"' in page
    assert "BEGIN HIDDEN" not in page and 'part="hidden"' not in page
    # a hidden check's named mistake is part of its message, or one of the grader's own texts
    for result in graded_class["status"].values():
        for test in result["tests"].values():
            for m in test.get("mistakes") or []:
                known = m["mistake"] in mistake_ids.FIXED or m["mistake"].startswith("raised ")
                known = known or m["mistake"] in ("unverified", "timed out", "kernel died")
                assert known or m["headline"] in test["message"], (m, test["message"])
