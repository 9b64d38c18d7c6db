"""Does a class work on the hub, end to end, with real accounts, a real hub and a real browser?

As root (CI runs as root): ``python -m deploy.hub setup`` makes one instructor and student A,
then again with student B added (only B is new); the hub starts on loopback. Student A logs in
in headless Chromium, opens Course > Assignment List, fetches ``01_neurons``, types a correct
``sigmoid`` into its answer cell, saves and submits from the tab; the instructor tools are
nowhere in A's JupyterLab. Student B fetches and submits a wrong ``sigmoid`` with nbgrader's
command line, as B. The instructor runs the README's loop (collect, grade, feedback, release
feedback) as the instructor. A fetches the feedback in the browser: the page shows A's score;
B's feedback names B's mistake; neither shows a hidden test. A can read neither B's work nor
the instructor's course folder nor the hub's state: each is a permission error. The instructor,
in the browser, has nbgrader's tools and a formgrader on the course.

Accounts and folders carry the prefix ``nnktest-`` and are removed whatever happens, and
what a killed run left is removed first. A failure names the step that broke; screenshots go
to ``test-artifacts/``.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import re
import time
from pathlib import Path

import pytest
from browser_helpers import chromium_page, require_chromium, wait_kernel_idle
from hub_browser import (
    NBGRADER_TOOLS,
    click_row_button,
    error_text,
    html_text,
    log_in,
    menu_bar,
    open_assignments,
    refresh_assignments,
    replace_cell_source,
    save_notebook,
)

from deploy.hub import system, trial
from deploy.hub.roster import Member
from deploy.hub.settings import load
from deploy.hub.setup import setup

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(
        not hasattr(os, "geteuid") or os.geteuid() != 0,
        reason="needs root: it creates Unix accounts (CI runs the suite as root)",
    ),
]

REPO = Path(__file__).resolve().parents[2]
LESSON = "01_neurons"
ARTIFACTS = REPO / "test-artifacts"
INSTRUCTOR, ALICE, BOB = (f"{trial.PREFIX}{n}" for n in ("teacher", "alice", "bob"))

CORRECT_SIGMOID = '''def sigmoid(a):
    """Logistic sigmoid: two branches, each with exp of a non-positive number."""
    a = np.asarray(a)
    if a.dtype.kind != "f":
        a = a.astype(np.float64)
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_grad(a):
    # YOUR CODE HERE
    raise NotImplementedError()
'''
WRONG_SIGMOID = CORRECT_SIGMOID.replace(
    """    a = np.asarray(a)
    if a.dtype.kind != "f":
        a = a.astype(np.float64)
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e))""",
    "    return 1 / (1 + np.exp(a))",
)
EDIT_AS_BOB = """
import json, sys
path, source = sys.argv[1], sys.argv[2]
nb = json.load(open(path))
ids = [c["metadata"].get("nbgrader", {}).get("grade_id") for c in nb["cells"]]
cell = nb["cells"][ids.index("sigmoid")]
cell["source"] = source
json.dump(nb, open(path, "w"))
"""
# Run in the runtime: {"installed": the named distributions that are installed, "needed": every
# distribution the named ones require, transitively (extras not counted)}.
INSTALLED = """
import importlib.metadata as m, json, re, sys

def name(requirement):
    return re.split(r"[<>=!~ \\[;(]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")

def installed(dist):
    try:
        return bool(m.version(dist))
    except m.PackageNotFoundError:
        return False

needed, todo = set(), [name(a) for a in sys.argv[1:]]
while todo:
    dist = todo.pop()
    if dist in needed or not installed(dist):
        continue
    needed.add(dist)
    todo += [name(r) for r in m.requires(dist) or [] if "extra ==" not in r]
print(json.dumps({"needed": sorted(needed)}))
"""
# Run as student A: each attempt must end in a PermissionError, not in an empty answer.
PRY_AS_ALICE = """
import json, os, sys
out = {}
for kind, path in json.loads(sys.argv[1]):
    try:
        if kind == "list":
            out[path] = "listed %d entries" % len(os.listdir(path))
        else:
            with open(path, "rb") as fh:
                out[path] = "read %d bytes" % len(fh.read())
    except Exception as exc:
        out[path] = type(exc).__name__
print(json.dumps(out))
"""


class Steps:
    """Names the step that fails, with a screenshot of the page when there is one."""

    def __init__(self):
        self.page = None
        self.done: list[str] = []
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def step(self, name: str):
        started = time.monotonic()
        try:
            yield
        except BaseException as exc:
            shot = ""
            if self.page is not None:
                ARTIFACTS.mkdir(exist_ok=True)
                path = ARTIFACTS / f"hub-{re.sub(r'[^a-z0-9]+', '-', name.lower())}.png"
                with contextlib.suppress(Exception):
                    self.page.screenshot(path=str(path))
                    shot = f"; screenshot {path.relative_to(REPO)}"
            done = ", ".join(self.done) or "none"
            raise AssertionError(
                f"hub step '{name}' failed{shot} (steps done: {done}): {exc}"
            ) from exc
        self.done.append(name)
        self.seconds[name] = time.monotonic() - started
        lines = [f"{s:6.1f} s  {n}" for n, s in self.seconds.items()]
        _artifact("hub-steps.txt").write_text("\n".join(lines) + "\n")  # where CI time goes


def _points(grade_id_prefix: str, exclude: str) -> tuple[float, float]:
    """(points of the test cells whose grade_id starts with ``grade_id_prefix``, all points),
    from the source notebook's nbgrader metadata."""
    nb = json.loads((REPO / "solutions" / LESSON / f"{LESSON}.ipynb").read_text())
    mine = total = 0.0
    for cell in nb["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            total += meta["points"]
            gid = meta["grade_id"]
            if gid.startswith(grade_id_prefix) and not gid.startswith(exclude):
                mine += meta["points"]
    return mine, total


def _hidden_lines() -> list[str]:
    """The lines of the lesson's hidden tests that the released lesson never shows."""
    nb = json.loads((REPO / "solutions" / LESSON / f"{LESSON}.ipynb").read_text())
    block = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)
    texts = ["".join(cell["source"]) for cell in nb["cells"]]
    shown = "\n".join(block.sub("", text) for text in texts)
    blocks = [b for text in texts for b in block.findall(text)]
    hidden = [line.strip() for b in blocks for line in b.splitlines()]
    secret = [line for line in hidden if line and line not in shown]
    assert secret, "the lesson has no hidden test lines to look for"
    return secret


def _readme_loop() -> list[str]:
    """The instructor's loop on the hub, as the README writes it (comments removed)."""
    text = (REPO / "README.md").read_text()
    section = text.split("### The instructor's loop on the hub", 1)[1]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.strip()]


def _as(user: str, cmd: list, settings, cwd: Path, role: str = "student") -> str:
    return system.as_user(user, cmd, settings, cwd, role)


def _home(user: str) -> Path:
    return Path(pwd.getpwnam(user).pw_dir)


def test_a_class_on_the_hub_fetches_submits_and_reads_feedback(tmp_path):
    require_chromium()
    from autograder.cases.l01_neurons import SIGMOID_MISTAKES

    sign_error = next(m.message for m in SIGMOID_MISTAKES if m.name == "sign error")
    a_points, max_points = _points("test_sigmoid_", exclude="test_sigmoid_grad")
    steps = Steps()
    settings_file = trial.trial_toml((LESSON,), tmp_path)
    settings = load(settings_file)
    url = trial.hub_url(settings)
    with trial.exclusive(settings):
        try:
            with steps.step("remove what an earlier run left"):
                trial.remove_leftovers(settings)
                assert not [p for p in pwd.getpwall() if p.pw_name.startswith(trial.PREFIX)]
            _run_class(steps, settings, settings_file, tmp_path, url, sign_error,
                       a_points, max_points)  # fmt: skip
        finally:
            trial.remove_leftovers(settings)
            left = [p.pw_name for p in pwd.getpwall() if p.pw_name.startswith(trial.PREFIX)]
            assert not left, f"accounts left behind: {left}"


def _run_class(steps, settings, settings_file, tmp_path, url, sign_error, a_points, max_points):
    teacher, alice = Member(INSTRUCTOR, "instructor"), Member(ALICE, "student")
    bob = Member(BOB, "student")
    with steps.step("setup with the instructor and student A"):
        plan = setup(settings, [teacher, alice], say=lambda _: None)
        assert [m.name for m in plan.new_accounts] == [INSTRUCTOR, ALICE]
        assert plan.release == (LESSON,)
    with steps.step("the runtime has the course's runtime packages and no test tools"):
        python = settings.venv / "bin" / "python"
        project = _pyproject()["project"]
        runtime = [_name(r) for r in project["dependencies"]] + ["jupyterhub"]
        probe = system.run([python, "-c", INSTALLED, *runtime], cwd="/").stdout
        needed = set(json.loads(probe)["needed"])
        assert set(runtime) <= needed, f"the runtime lacks {set(runtime) - needed}"
        test_only = {_name(r) for r in project["optional-dependencies"]["dev"]} - needed
        probe = system.run([python, "-c", INSTALLED, *test_only], cwd="/").stdout
        extra = set(json.loads(probe)["needed"]) & test_only
        assert not extra, f"the runtime under /opt holds test-only packages: {sorted(extra)}"
    outbound = settings.exchange / settings.course_id / "outbound" / LESSON
    with steps.step("setup again with student B added: only B is new"):
        shadow_before = _shadow(INSTRUCTOR, ALICE)
        released_before = outbound.stat().st_mtime_ns
        plan = setup(settings, [teacher, alice, bob], say=lambda _: None)
        assert [m.name for m in plan.new_accounts] == [BOB]
        assert {m.name for m in plan.kept} == {INSTRUCTOR, ALICE}
        assert plan.release == () and plan.already_released == (LESSON,)
        assert _shadow(INSTRUCTOR, ALICE) == shadow_before, "passwords of existing accounts changed"
        assert outbound.stat().st_mtime_ns == released_before, "the lesson was released again"
    passwords = trial.passwords(settings)

    hub = None
    try:
        with steps.step("start the hub"):
            hub = trial.start(settings_file, tmp_path / "hub.log")
        _student_a_submits(steps, url, passwords[ALICE])
        with steps.step("student B fetches and submits a wrong sigmoid on the command line"):
            home = _home(BOB)
            _as(BOB, [settings.venv / "bin" / "nbgrader", "fetch_assignment", LESSON],
                settings, home)  # fmt: skip
            notebook = home / LESSON / f"{LESSON}.ipynb"
            _as(BOB, [settings.venv / "bin" / "python", "-c", EDIT_AS_BOB, notebook,
                      WRONG_SIGMOID], settings, home)  # fmt: skip
            _as(BOB, [settings.venv / "bin" / "nbgrader", "submit", LESSON], settings, home)
        course = _home(INSTRUCTOR) / settings.course_folder
        with steps.step("instructor: the README's loop (collect, grade, feedback, release)"):
            loop = _readme_loop()
            start = next(i for i, line in enumerate(loop) if line.startswith("nbgrader collect"))
            for line in loop[start:]:
                command = line.replace("01_neurons", LESSON)
                output = _as(INSTRUCTOR, ["/bin/bash", "-c", command], settings, course,
                             "instructor")  # fmt: skip
                if command.startswith("python -m autograder grade"):
                    assert "graded 2 submissions" in output, output
        with steps.step("student A cannot read B's work, the course folder or the hub's state"):
            _no_prying(settings, course)
        with steps.step("student B's feedback names the mistake and hides the hidden tests"):
            home = _home(BOB)
            _as(BOB, [settings.venv / "bin" / "nbgrader", "fetch_feedback", LESSON],
                settings, home)  # fmt: skip
            pages = list((home / LESSON / "feedback").glob(f"*/{LESSON}.html"))
            assert len(pages) == 1, f"B's fetched feedback: {pages}"
            text = html_text(pages[0].read_text())
            assert sign_error.split(";")[0] in text, (
                f"B's feedback misses the mistake: {text[:800]}"
            )
            _assert_no_hidden_test(text, "B's feedback")
        _student_a_reads_feedback(steps, url, passwords[ALICE], a_points, max_points)
        _instructor_has_the_tools(steps, url, passwords[INSTRUCTOR])
    finally:
        if hub is not None:
            trial.stop(hub)


def _pyproject() -> dict:
    import tomllib

    return tomllib.loads((REPO / "pyproject.toml").read_text())


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _shadow(*users: str) -> list[str]:
    lines = Path("/etc/shadow").read_text().splitlines()
    return [line for line in lines if line.split(":", 1)[0] in users]


def _assert_no_hidden_test(text: str, whose: str) -> None:
    assert "BEGIN HIDDEN TESTS" not in text, f"{whose} shows a hidden-test marker"
    for line in _hidden_lines():
        assert line not in text, f"{whose} shows the hidden test line {line!r}"


def _no_prying(settings, course: Path) -> None:
    inbound = settings.exchange / settings.course_id / "inbound"
    bob_home = _home(BOB)
    targets = [
        ("list", str(inbound)),
        ("list", str(bob_home)),
        ("read", str(bob_home / LESSON / f"{LESSON}.ipynb")),
        ("read", str(course / "submitted" / BOB / LESSON / f"{LESSON}.ipynb")),
        ("list", str(course)),
        ("read", str(course / "solutions" / LESSON / f"{LESSON}.ipynb")),
        ("read", str(course / "gradebook.db")),
        ("read", str(course / ".autograder-secret")),
        ("list", str(settings.state_dir)),
    ]
    for _, path in targets:  # the oracle: each exists, so only permissions can stop A
        assert Path(path).exists(), f"{path} should exist by now"
    out = _as(ALICE, [settings.venv / "bin" / "python", "-c", PRY_AS_ALICE, json.dumps(targets)],
              settings, _home(ALICE))  # fmt: skip
    results = json.loads(out.strip().splitlines()[-1])
    leaked = {p: r for p, r in results.items() if r != "PermissionError"}
    assert not leaked, f"student A got these instead of a permission error: {leaked}"


def _student_a_submits(steps, url: str, password: str) -> None:
    with chromium_page("hub-student-a") as page:
        try:
            steps.page = page
            with steps.step("student A logs in and the server starts"):
                log_in(page, url, ALICE, password)
            with steps.step("student A sees no instructor tools"):
                assert "Nbgrader" not in menu_bar(page), menu_bar(page)
                assert "Course" in menu_bar(page), menu_bar(page)
                response = page.request.get(f"{url}/user/{ALICE}/formgrader")
                assert response.status == 404, f"formgrader answered {response.status}"
            with steps.step("student A fetches the lesson from the Assignments tab"):
                open_assignments(page)
                click_row_button(page, "released_assignments_list", LESSON, "Fetch")
                page.locator("#fetched_assignments_list > .list_item", has_text=LESSON).wait_for(
                    timeout=60_000
                )
                assert not error_text(page), error_text(page)
            with steps.step("the Assignments tab shows no Validate button"):
                row = page.locator("#fetched_assignments_list > .list_item", has_text=LESSON)
                row.locator(".assignment-notebooks-link").first.click()
                link = row.locator(".nested_list_item a", has_text=LESSON).first
                link.wait_for(state="visible", timeout=20_000)
                validate = row.locator(".nested_list_item button", has_text="Validate")
                assert validate.count() == 1, "nbgrader's assignment list changed its markup"
                assert validate.first.is_hidden(), "the student's Validate button is visible"
            with steps.step("student A opens the notebook and types a correct sigmoid"):
                link.click()
                page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=60_000)
                wait_kernel_idle(page)
                for tool, selector in NBGRADER_TOOLS.items():
                    assert page.locator(selector).count() == 0, f"the student sees the {tool}"
                replace_cell_source(page, "def sigmoid(a):", CORRECT_SIGMOID)
                save_notebook(page)
            with steps.step("student A submits from the Assignments tab"):
                page.locator(".lm-TabBar-tab", has_text="Assignments").first.click()
                refresh_assignments(page)
                click_row_button(page, "fetched_assignments_list", LESSON, "Submit")
                page.locator("#submitted_assignments_list > .list_item", has_text=LESSON).wait_for(
                    timeout=60_000
                )
                assert not error_text(page), error_text(page)
                page.screenshot(path=str(_artifact("hub-student-a-submitted.png")))
        finally:
            steps.page = None


def _student_a_reads_feedback(steps, url, password, a_points, max_points) -> None:
    with chromium_page("hub-student-a-feedback") as page:
        try:
            steps.page = page
            with steps.step("student A fetches the feedback from the Assignments tab"):
                log_in(page, url, ALICE, password)
                open_assignments(page)
                click_row_button(page, "submitted_assignments_list", LESSON, "Fetch Feedback")
                view = page.locator("#submitted_assignments_list a", has_text="view feedback")
                view.first.wait_for(timeout=60_000)
                view.first.click()
                item = page.locator(".jp-DirListing-item", has_text=f"{LESSON}.html").first
                item.wait_for(timeout=30_000)
                item.dblclick()
            with steps.step("the feedback page shows A's score and no hidden test"):
                frame = page.frame_locator(".jp-RenderedHTML iframe, iframe").first
                body = frame.locator("body")
                body.wait_for(timeout=30_000)
                expected = f"Your results: {a_points:g} / {max_points:g}"
                deadline = time.monotonic() + 30
                while expected not in body.inner_text() and time.monotonic() < deadline:
                    page.wait_for_timeout(250)
                text = body.inner_text()
                assert expected in text, f"A's feedback page lacks {expected!r}: {text[:600]}"
                _assert_no_hidden_test(text, "A's feedback page")
                page.screenshot(path=str(_artifact("hub-student-a-feedback.png")))
        finally:
            steps.page = None


def _instructor_has_the_tools(steps, url: str, password: str) -> None:
    with chromium_page("hub-instructor") as page:
        try:
            steps.page = page
            with steps.step("the instructor logs in and has nbgrader's tools"):
                log_in(page, url, INSTRUCTOR, password)
                assert "Nbgrader" in menu_bar(page), menu_bar(page)
                tab = NBGRADER_TOOLS["Create Assignment panel"]
                page.locator(tab).first.wait_for(state="attached", timeout=60_000)
            with steps.step("the instructor's formgrader shows the course's released lesson"):
                page.goto(f"{url}/user/{INSTRUCTOR}/formgrader")
                row = page.locator("tr", has_text=LESSON).first
                row.wait_for(timeout=60_000)
                assert "released" in row.inner_text(), row.inner_text()
        finally:
            steps.page = None


def _artifact(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name
