"""Named mistakes without a kernel: their ids, the warden's ledger answer as the worker reads
it, what the worker records per test cell, and the lesson section each function links to.

The real kernels (a class graded through ``python -m autograder grade``) are in
``test_class_mistakes.py``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from grader_fixtures import REPO

import nnkit
from autograder import framework, mistake_ids
from autograder.instructor import feedback, kernel_boot, pipeline, worker

KEY = b"k" * 32
LESSON = "02_softmax"


def _diagnosis(function: str, part: str, fn, companions: tuple = ()) -> tuple[str, str] | None:
    """``(id, headline)`` as ``check`` gives it to the warden, or None for a pass."""
    result = framework.run_part(framework.find_part(function, part), fn, companions)
    if result.ok:
        return None
    return mistake_ids.diagnosis(framework.SPECS[function], result.message, result.mistake)


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _softmax_in_place(z):
    z -= z.max(axis=-1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=-1, keepdims=True)
    return z


def _sce_not_divided(z, y):
    p = _softmax(z)
    loss = -np.mean(np.log(p[np.arange(len(y)), y]))
    p[np.arange(len(y)), y] -= 1
    return loss, p


def _raise(exc):
    def fn(*_args):
        raise exc

    return fn


@pytest.mark.parametrize(
    ("function", "fn", "expected"),
    [
        ("softmax_cross_entropy", _sce_not_divided, "grad not divided by N"),
        ("softmax", _raise(ValueError("no")), "raised ValueError"),
        ("softmax", _raise(NotImplementedError()), mistake_ids.NOT_IMPLEMENTED),
        ("softmax", lambda z: nnkit.softmax(z), mistake_ids.CALLS_REFERENCE),
        ("softmax", _softmax_in_place, mistake_ids.MUTATES_INPUT),
        ("softmax", lambda z: _softmax(z).tolist(), "wrong type"),
        ("softmax", lambda z: np.ones((*np.shape(z), 2)), "wrong shape"),
        ("softmax", lambda z: _softmax(z) * 1.2345, mistake_ids.UNNAMED),
    ],
    ids=["catalogue", "exception", "stub", "reference", "in place", "type", "shape", "unnamed"],
)
def test_every_kind_of_failure_has_a_mistake_id(function, fn, expected):
    """Catalogue entry, exception, stub, reference call, in-place change, wrong type or shape,
    plain wrong values: does each failing part end with its id (and a headline)?"""
    mistake, headline = _diagnosis(function, "values", fn)
    assert mistake == expected
    assert headline and "\n" not in headline


def test_a_custom_runners_failure_is_named_by_its_id_or_else_by_its_words():
    """A runner's own id (dropout that drops everything) with its sentence as the headline; a
    runner message without an id is named by its words, the same for every case label and
    measured number, keeping the integers of a formula."""
    drop_all = _diagnosis(
        "dropout_forward", "statistics", lambda x, p, train, rng=None: (np.zeros_like(x), None)
    )
    assert drop_all == ("every unit dropped", "every unit was dropped.")
    one = mistake_ids.from_message('On the case "p = 0.3": 70.1% of the units survive; with p')
    other = mistake_ids.from_message('On the case "hidden case 2": 12% of the units survive; x')
    assert one[0] == other[0] == "# of the units survive"
    kept = mistake_ids.from_message('On the case "x": out is not x * mask / (1 − p): divide')
    assert kept == ("out is not x * mask / (1 − p)", "out is not x * mask / (1 − p): divide")


def test_a_passing_part_has_no_mistake():
    assert _diagnosis("softmax", "values", _softmax) is None


# --------------------------------------------------------------------------------------------
# The ledger answer


def _answer(nonce: str, since: int, entries: list[tuple], key: bytes = KEY, **change) -> str:
    records = "\x1e".join("\x1f".join(map(str, e)) for e in entries)
    count = change.pop("count", since + len(entries))
    fields = [change.pop("nonce", nonce), str(change.pop("since", since)), str(count), "1"]
    payload = "\x1d".join([*fields, records])
    return repr((payload, kernel_boot.ledger_tag(key, payload)))


ENTRIES = [
    (4, LESSON, "softmax", "values", "1", "", ""),
    (5, LESSON, "softmax", "edge", "0", "wrong shape", "your output has shape (2,)"),
]


def test_the_worker_takes_the_ledger_only_from_the_warden_for_its_question():
    """The right answer is read; another key, nonce or start, a missing entry or an edited
    one (the tag no longer fits) is refused."""
    count, outcomes = kernel_boot.read_ledger(KEY, "n1", 3, _answer("n1", 3, ENTRIES))
    assert count == 5
    assert [(o.part, o.passed, o.mistake) for o in outcomes] == [
        ("values", True, ""),
        ("edge", False, "wrong shape"),
    ]
    assert kernel_boot.read_ledger(KEY, "n1", 3, _answer("n1", 3, ENTRIES, key=b"o" * 32)) is None
    assert kernel_boot.read_ledger(KEY, "n2", 3, _answer("n1", 3, ENTRIES)) is None
    assert kernel_boot.read_ledger(KEY, "n1", 2, _answer("n1", 3, ENTRIES)) is None
    assert kernel_boot.read_ledger(KEY, "n1", 3, _answer("n1", 3, ENTRIES[1:], count=5)) is None
    edited = _answer("n1", 3, ENTRIES).replace("wrong shape", "wrong dtype")
    assert kernel_boot.read_ledger(KEY, "n1", 3, edited) is None
    for junk in ("", "None", "('a', 'b')", "[1, 2]", "x" * 100):
        assert kernel_boot.read_ledger(KEY, "n1", 3, junk) is None


LEDGER_SCRIPT = r"""
import sys
import numpy as np
import autograder
from autograder import CheckFailed, check, sandbox

print("BEFORE", repr(sandbox.ledger("n", 0)))
assert sandbox.enter_grading_mode(b"k" * 32, b"s" * 32)

def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)

def nested(z):  # a check run from inside a graded call is no test cell's: not recorded
    try:
        check("softmax", lambda z: z, part="edge")
    except Exception:
        pass
    return softmax(z)

for fn in (softmax, np.exp, nested):
    try:
        check("softmax", fn, part="values")
    except CheckFailed:
        pass
for forge in (lambda: sys.audit("autograder.sign", []), lambda: sandbox.ledger(b"n", 0)):
    try:
        print("FORGED", forge())
    except sandbox.WardenError:
        print("REFUSED")
print("ANSWER", repr(sandbox.ledger("nonce-1", 0)))
print("LATER", repr(sandbox.ledger("nonce-2", 2)))
"""


def test_the_warden_records_each_checks_outcome_and_signs_its_ledger(tmp_path):
    """In grading mode (a fresh process): a pass, a failure with the mistake ``check`` found,
    and no record of a check run inside a graded call; nobody else can ask for a record;
    the ledger answers from any start, signed over the nonce with the kernel's key."""
    import subprocess
    import sys

    script = tmp_path / "ledger.py"
    script.write_text(LEDGER_SCRIPT)
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    tags = ("BEFORE", "FORGED", "REFUSED", "ANSWER", "LATER")
    lines = dict((line + " ").split(" ", 1) for line in run.stdout.splitlines())
    lines = {k: v.strip() for k, v in lines.items() if k in tags}
    assert lines["BEFORE"] == repr(("", ""))
    assert run.stdout.count("REFUSED") == 1 and "FORGED ('', '')" in run.stdout, run.stdout
    count, entries = kernel_boot.read_ledger(KEY, "nonce-1", 0, lines["ANSWER"])
    wrong = _diagnosis("softmax", "values", np.exp)
    assert count == 3
    assert [(e.function, e.part, e.passed, e.mistake, e.headline) for e in entries] == [
        ("softmax", "values", True, "", ""),
        ("softmax", "values", False, *wrong),
        # the inner check computed its expected value with the reference: a reference call
        # of the outer one; the inner check itself left no record
        ("softmax", "values", False, *mistake_ids.diagnosis(None, "", mistake_ids.CALLS_REFERENCE)),
    ]
    assert kernel_boot.read_ledger(KEY, "nonce-2", 2, lines["LATER"])[1] == entries[2:]
    assert kernel_boot.read_ledger(b"o" * 32, "nonce-1", 0, lines["ANSWER"]) is None


# --------------------------------------------------------------------------------------------
# What the worker records per test cell


def _outcome(seq: int, part: str, mistake: str = "", function: str = "softmax"):
    return kernel_boot.LedgerEntry(
        seq, LESSON, function, part, not mistake, mistake, mistake.upper()
    )


def _code_cell(gid: str, enames: tuple[str, ...] = ()) -> dict:
    outputs = [{"output_type": "error", "ename": e, "evalue": "", "traceback": []} for e in enames]
    return {
        "cell_type": "code",
        "metadata": {"nbgrader": {"grade_id": gid, "grade": True}},
        "source": "",
        "outputs": outputs,
    }


def test_a_failing_cell_gets_the_mistakes_of_its_own_checks_and_nothing_else(tmp_path, monkeypatch):
    """Its own entries: their mistakes. An extra check ran during the cell, no entry, a ledger
    that could not be read: 'unverified' (never 'no mistake', never the extra check's). A
    cell that timed out says so; a cell with full points has none."""
    cells = {
        "test_own": ([_outcome(1, "values", "grad sign")], ()),
        "test_extra": ([_outcome(2, "edge", "transposed"), _outcome(3, "edge")], ()),
        "test_missing": ([], ()),
        "test_lost": ("the kernel's answer for the ledger was not the warden's", ()),
        "test_timeout": ("the ledger could not be read (CellTimeoutError)", ("CellTimeoutError",)),
        "test_passed_unscored": ([_outcome(6, "gradient")], ()),
        "test_full": ([_outcome(7, "values2")], ()),
    }
    parts = {
        "test_own": "values",
        "test_extra": "edge",
        "test_missing": "hidden",
        "test_lost": "jacobian",
        "test_timeout": "more",
        "test_passed_unscored": "gradient",
        "test_full": "values2",
    }
    graded = tmp_path / "graded.ipynb"
    graded.write_text(json.dumps({"cells": [_code_cell(g, e) for g, (_, e) in cells.items()]}))
    info = {
        "grades": dict.fromkeys(cells, 2.0),
        "checks": {g: [["softmax", p]] for g, p in parts.items()},
        "tests": list(cells),
    }
    sub = pipeline.Submission("s", LESSON, tmp_path / "x.ipynb", info)
    sub.autograded = graded
    sub.tests = {g: {"score": 0.0, "max": 2.0, "hidden": False, "message": ""} for g in cells}
    sub.tests["test_full"]["score"] = 2.0
    monkeypatch.setattr(worker.STATE, "windows", {g: w for g, (w, _) in cells.items()})
    worker.record_mistakes(sub)
    found = {g: [(m["part"], m["mistake"]) for m in t["mistakes"]] for g, t in sub.tests.items()}
    assert found == {
        "test_own": [("values", "grad sign")],
        "test_extra": [("edge", "unverified")],
        "test_missing": [("hidden", "unverified")],
        "test_lost": [("jacobian", "unverified")],
        "test_timeout": [("more", "timed out")],
        "test_passed_unscored": [("gradient", "passed, not scored")],
        "test_full": [],
    }
    assert sub.tests["test_own"]["mistakes"][0]["headline"] == "GRAD SIGN"
    assert any("test_extra" in d and "2 check(s)" in d for d in sub.details), sub.details


# --------------------------------------------------------------------------------------------
# Lesson sections


def _lesson_notebooks():
    return sorted((REPO / "solutions").glob("*/*.ipynb"))


@pytest.mark.parametrize("path", _lesson_notebooks(), ids=lambda p: p.stem)
def test_every_graded_function_links_to_the_section_above_its_answer(path):
    """Each function of the lesson's manifest maps to a '## ' heading above the answer cell
    that defines it (its section), not to the title or a sub-heading."""
    cells = json.loads(path.read_text())["cells"]
    answers = feedback.answer_cells(cells)
    sections = feedback.lesson_sections(cells, answers)
    functions = {p.function for p in framework.manifest(path.stem)}
    assert functions and functions <= set(sections), functions - set(sections)
    position = {feedback.grade_id_of(c): i for i, c in enumerate(cells)}
    for function in functions:
        index, title = sections[function]
        assert index < position[answers[function]]
        source = "".join(cells[index]["source"])
        assert f"## {title}" in source and f"### {title}" not in source, (function, title)


def test_sections_of_functions_that_share_an_answer_cell():
    cells = json.loads((REPO / "solutions/02_softmax/02_softmax.ipynb").read_text())["cells"]
    sections = feedback.lesson_sections(cells, feedback.answer_cells(cells))
    assert sections["softmax_jacobian"][1] == sections["softmax"][1] == "1. Softmax"
    assert sections["softmax_cross_entropy"][1] == "3. Softmax and cross-entropy together"


# --------------------------------------------------------------------------------------------
# Counting them for the report


def _result(student: str, scores: dict[str, float], mistakes: dict | None = None, **extra):
    tests = {g: {"score": s, "max": 2.0} for g, s in scores.items()}
    for gid, found in (mistakes or {}).items():
        tests[gid]["mistakes"] = [
            {"function": "softmax", "part": p, "mistake": m, "headline": m.upper()}
            for p, m in found
        ]
    return {"student": student, "lesson": LESSON, "tests": tests, "autograded": "x", **extra}


INFO = {
    LESSON: {
        "checks": {
            "test_softmax_values": [["softmax", "values"]],
            "test_softmax_edge": [["softmax", "edge"]],
            "test_softmax_hidden": [["softmax", "hidden"]],
        },
        "hidden": ["test_softmax_hidden"],
    }
}


def test_visible_passed_hidden_failed_counts_only_students_who_passed_every_visible_part():
    """Of the three who passed values and edge, one failed hidden; the fourth student failed
    edge, so they do not count, whatever their hidden part did."""
    from autograder.instructor import mistakes

    full, lost = 2.0, 0.0
    results = [
        _result(
            "a",
            {"test_softmax_values": full, "test_softmax_edge": full, "test_softmax_hidden": full},
        ),
        _result(
            "b",
            {"test_softmax_values": full, "test_softmax_edge": full, "test_softmax_hidden": lost},
        ),
        _result(
            "c",
            {"test_softmax_values": full, "test_softmax_edge": full, "test_softmax_hidden": full},
        ),
        _result(
            "d",
            {"test_softmax_values": full, "test_softmax_edge": lost, "test_softmax_hidden": lost},
        ),
    ]
    (gap,) = mistakes._hidden_gaps(results, INFO)
    assert (gap.function, gap.passed_visible, gap.failed_hidden, gap.graded) == ("softmax", 3, 1, 4)
    assert gap.share == pytest.approx(1 / 3)


def test_failing_tests_without_records_say_why():
    """A result from before mistakes were recorded is 'not recorded' (grade --force); a
    submission that never ran is 'not graded' with its status; full points give nothing."""
    from autograder.instructor import mistakes

    info = INFO[LESSON]
    recorded = _result(
        "a", {"test_softmax_values": 0.0}, {"test_softmax_values": [("values", "no max")]}
    )
    old = _result("b", {"test_softmax_values": 0.0, "test_softmax_edge": 2.0})
    broken = _result("c", {"test_softmax_values": 0.0}, autograded=None, status=["not a notebook"])
    assert mistakes._records(recorded, info) == [("softmax", "values", "no max", "NO MAX")]
    assert [r[2] for r in mistakes._records(old, info)] == [mistakes.NOT_RECORDED]
    assert mistakes._records(broken, info)[0][2:] == (mistakes.NOT_GRADED, "not a notebook")


def test_the_kind_of_a_mistake_says_where_its_name_comes_from():
    from autograder.instructor import mistakes

    assert mistakes.kind_of("softmax_cross_entropy", "grad not divided by N") == "catalogue"
    assert mistakes.kind_of("softmax", mistake_ids.UNNAMED) == "unnamed"
    assert mistakes.kind_of("softmax", mistake_ids.NOT_IMPLEMENTED) == "not attempted"
    assert mistakes.kind_of("softmax", "unverified") == "grading"
    assert mistakes.kind_of("softmax", "raised ValueError") == "grader"
    assert mistakes.kind_of("dropout_forward", "every unit was dropped") == "grader"


def test_a_lost_test_links_the_function_its_checks_grade(monkeypatch):
    """From the recorded mistakes, else the cell's check calls, else the longest function
    name in its grade_id (test_softmax_cross_entropy_values is not about softmax)."""
    answers = {"softmax": "softmax", "softmax_cross_entropy": "softmax_cross_entropy"}
    monkeypatch.setattr(feedback, "ANSWERS", {LESSON: answers})
    monkeypatch.setattr(feedback, "CHECKS", {LESSON: {"test_x": [["softmax_jacobian", "values"]]}})
    recorded = {"mistakes": [{"function": "softmax", "part": "values", "mistake": "no max"}]}
    assert feedback._functions(recorded, "test_x", LESSON) == ["softmax"]
    assert feedback._functions({}, "test_x", LESSON) == ["softmax_jacobian"]
    gid = "test_softmax_cross_entropy_values"
    assert feedback._functions({}, gid, LESSON) == ["softmax_cross_entropy"]
