"""The grader's trust outside the kernel: signed passes and the kernel's Landlock confinement.

No nbgrader run here: the verification step gets a hand-made graded notebook, and the
confinement is applied to a plain child process.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.instructor import kernel_boot, landlock, pipeline, worker

KEY = b"k" * 32
LESSON = "02_softmax"


def _cell(gid: str, stdout: str) -> dict:
    return {
        "cell_type": "code",
        "metadata": {"nbgrader": {"grade_id": gid, "grade": True}},
        "source": "",
        "outputs": [{"output_type": "stream", "name": "stdout", "text": stdout}],
    }


def _passed(function: str, part: str, key: bytes = KEY) -> str:
    tag = kernel_boot.signature(key, LESSON, function, part)
    return f"✓ {function} · {part}: passed (2 points) ⟪{tag}⟫\n"


def test_check_calls_are_read_from_the_restored_test_source():
    source = '# 2 points\n### BEGIN HIDDEN TESTS\ncheck("softmax", softmax, part="hidden")\n'
    assert kernel_boot.checks_in(source) == [("softmax", "hidden")]
    assert kernel_boot.checks_in('check("f", f, g)\ncheck("f", f, part="edge")') == [
        ("f", "values"),
        ("f", "edge"),
    ]
    assert kernel_boot.checks_in("assert add(1, 2) == 3") == []


def test_a_test_cell_keeps_its_points_only_with_a_valid_signature(tmp_path, monkeypatch):
    """A cell that did not raise but printed no signature, a forged one, one signed with another
    key or for another part: are they all zeroed and flagged, and a signed pass kept?"""
    cells = {
        "test_good": _passed("softmax", "values"),
        "test_silent": "",
        "test_forged": "✓ softmax · edge: passed (2 points) ⟪0123456789abcdef01234567⟫\n",
        "test_other_key": _passed("softmax", "hidden", key=b"o" * 32),
        "test_other_part": _passed("softmax", "values"),
    }
    checks = {
        "test_good": [["softmax", "values"]],
        "test_silent": [["softmax", "values"]],
        "test_forged": [["softmax", "edge"]],
        "test_other_key": [["softmax", "hidden"]],
        "test_other_part": [["softmax", "edge"]],
    }
    graded = tmp_path / "graded.ipynb"
    graded.write_text(json.dumps({"cells": [_cell(g, out) for g, out in cells.items()]}))
    info = {"grades": dict.fromkeys(cells, 2.0), "checks": checks, "tests": list(cells)}
    sub = pipeline.Submission("s", LESSON, tmp_path / "x.ipynb", info)
    sub.autograded = graded
    sub.grades = {g: {"score": 2.0, "max": 2.0, "manual": False} for g in cells}
    sub.tests = {g: {"score": 2.0, "max": 2.0, "hidden": False, "message": ""} for g in cells}
    monkeypatch.setattr(worker.STATE, "key", KEY)
    monkeypatch.setattr(worker.STATE, "boot_error", None)
    worker.verify_signatures(sub)
    assert sub.grades["test_good"]["score"] == 2.0
    for gid in ("test_silent", "test_forged", "test_other_key", "test_other_part"):
        assert sub.grades[gid]["score"] == 0.0, gid
        assert sub.tests[gid]["score"] == 0.0
    assert pipeline.UNVERIFIED in sub.statuses


def test_a_kernel_that_never_entered_grading_mode_earns_nothing(tmp_path, monkeypatch):
    graded = tmp_path / "graded.ipynb"
    graded.write_text(json.dumps({"cells": [_cell("test_good", _passed("softmax", "values"))]}))
    info = {"grades": {"test_good": 2.0}, "checks": {"test_good": [["softmax", "values"]]}}
    sub = pipeline.Submission("s", LESSON, tmp_path / "x.ipynb", info)
    sub.autograded = graded
    sub.grades = {"test_good": {"score": 2.0, "max": 2.0, "manual": False}}
    monkeypatch.setattr(worker.STATE, "key", KEY)
    monkeypatch.setattr(worker.STATE, "boot_error", "RuntimeError: no grading mode")
    worker.verify_signatures(sub)
    assert sub.grades["test_good"] == {"score": 0.0, "max": 2.0, "manual": True}
    assert pipeline.GRADER_CRASHED in sub.statuses


CONFINED = r"""
import os, socket, sys
sys.path.insert(0, {here!r})
import landlock
own, hidden, outside = sys.argv[1:4]
status = landlock.confine(landlock.Path(own), [], [landlock.Path(hidden)])
print("STATUS", status)
def attempt(label, fn):
    try:
        fn()
        print(label, "allowed")
    except OSError as exc:
        print(label, "denied", type(exc).__name__)
attempt("write_own", lambda: open(os.path.join(own, "x"), "w").write("x"))
attempt("write_outside", lambda: open(os.path.join(outside, "x"), "w").write("x"))
attempt("write_site", lambda: open(os.path.join(sys.prefix, "zz_evil.pth"), "w").write("x"))
attempt("read_hidden", lambda: open(os.path.join(hidden, "gradebook.db")).read())
attempt("read_python", lambda: open(os.__file__).read(10))
attempt("connect", lambda: socket.create_connection(("127.0.0.1", int(sys.argv[4])), timeout=2))
attempt("signal_parent", lambda: os.kill(os.getppid(), 0))
"""


@pytest.mark.skipif(landlock.landlock_abi() < 6, reason="needs Landlock ABI 6 (Linux 6.12)")
def test_a_confined_kernel_writes_only_its_folder_and_reaches_nobody(tmp_path):
    """Under the grading kernel's Landlock rules: own folder writable; the venv, other folders
    and the (hidden) course folder out of reach; no TCP connection; no signal to the parent."""
    own, hidden, outside = tmp_path / "own", tmp_path / "course", tmp_path / "elsewhere"
    for d in (own, hidden, outside):
        d.mkdir()
    (hidden / "gradebook.db").write_text("grades")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    script = tmp_path / "confined.py"
    script.write_text(CONFINED.format(here=str(Path(landlock.__file__).parent)))
    port = str(server.getsockname()[1])
    try:
        run = subprocess.run(
            [sys.executable, str(script), str(own), str(hidden), str(outside), port],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "HOME": str(tmp_path)},
        )
    finally:
        server.close()
    assert run.returncode == 0, run.stderr[-2000:]
    got = dict(line.split(" ", 1) for line in run.stdout.splitlines())
    assert got["STATUS"].startswith("landlock ABI"), got
    assert got["write_own"] == "allowed" and got["read_python"] == "allowed", got
    for label in ("write_outside", "write_site", "read_hidden", "connect", "signal_parent"):
        assert got[label].startswith("denied"), (label, got)
    assert not (outside / "x").exists() and not Path(sys.prefix, "zz_evil.pth").exists()
