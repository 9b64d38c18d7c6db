"""On the real machine, as root: does bad input stop setup before it changes anything?

Each case runs the real setup (or its command line) with the throwaway hub's settings and
compares the machine before and after: accounts, groups, homes and the hub's folders.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from deploy.hub import trial
from deploy.hub.plan import PlanError
from deploy.hub.roster import RESERVED, USERNAME, Member
from deploy.hub.settings import load
from deploy.hub.setup import setup, teardown

REPO = Path(__file__).resolve().parents[2]
TEACHER, STUDENT = f"{trial.PREFIX}teacher", f"{trial.PREFIX}student"

pytestmark = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="needs root: it runs the real setup (CI runs the suite as root)",
)


def _machine(settings) -> dict:
    return {
        "accounts": sorted(p.pw_name for p in pwd.getpwall()),
        "groups": sorted(g.gr_name for g in grp.getgrall()),
        "homes": sorted(p.name for p in Path("/home").iterdir()),
        "folders": [p.exists() for p in (settings.hub_dir, settings.exchange, settings.runtime)],
        "runtime": sorted(p.name for p in settings.runtime.iterdir())
        if settings.runtime.exists()
        else [],
    }


@pytest.fixture
def trial_settings(tmp_path):
    settings = load(trial.trial_toml(("01_neurons",), tmp_path))
    with trial.exclusive(settings):
        trial.remove_leftovers(settings)
        before = _machine(settings)
        yield settings
        after = _machine(settings)
        trial.remove_leftovers(settings)
    assert after == before, "setup changed the machine although it refused the input"


def _system_account() -> str:
    """An account every Debian has, that a roster could name (uid 1..999, a valid name)."""
    for p in pwd.getpwall():
        if 0 < p.pw_uid < 1000 and USERNAME.match(p.pw_name) and p.pw_name not in RESERVED:
            return p.pw_name
    pytest.fail("no system account found to collide with")


def test_a_name_of_a_system_account_stops_setup_before_any_change(trial_settings):
    taken = _system_account()
    members = [Member(TEACHER, "instructor"), Member(taken, "student"), Member(STUDENT, "student")]
    with pytest.raises(PlanError) as err:
        setup(trial_settings, members, say=lambda _: None)
    assert len(err.value.problems) == 1
    assert err.value.problems[0].startswith(f"'{taken}' collides with an existing account")


def test_a_lesson_never_released_stops_setup_before_any_change(trial_settings, tmp_path):
    course = tmp_path / "course"
    for sub in ("solutions", "lessons"):
        shutil.copytree(REPO / sub, course / sub)
    shutil.rmtree(course / "lessons" / "01_neurons")
    members = [Member(TEACHER, "instructor"), Member(STUDENT, "student")]
    with pytest.raises(PlanError, match="lesson '01_neurons' was never released"):
        setup(trial_settings, members, repo=course, say=lambda _: None)


def test_a_roster_with_a_duplicate_is_refused_by_the_command(trial_settings, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text(
        f"username,role\n{TEACHER},instructor\n{STUDENT},student\n{STUDENT},student\n"
    )
    settings_file = tmp_path / "trial-hub.toml"
    done = subprocess.run(
        [sys.executable, "-m", "deploy.hub", "--settings", str(settings_file), "setup",
         "--roster", str(roster)],
        cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"line 4: '{STUDENT}' is listed twice (also line 3)" in done.stderr


@pytest.mark.parametrize("other_file", [False, True])
def test_teardown_removes_the_folders_it_made_and_nothing_else(tmp_path, other_file):
    """The hub's folder and the exchange under one parent (say /srv/class/hub and
    /srv/class/exchange): teardown leaves no empty /srv/class behind, and keeps it, with its
    other files, when something else is there. Groups that do not exist: no account is touched."""
    base = tmp_path / "srv" / "class"
    settings = load(
        hub_dir=str(base / "hub"),
        exchange=str(base / "exchange"),
        students_group="nnkno-students",
        instructors_group="nnkno-instructors",
    )
    (settings.hub_dir / "state").mkdir(parents=True)
    (settings.hub_dir / "state" / "jupyterhub.sqlite").write_bytes(b"")
    (settings.exchange / settings.course_id / "outbound" / "01_neurons").mkdir(parents=True)
    if other_file:
        (base / "notes.txt").write_text("not the hub's")
    teardown(settings, say=lambda _line: None)
    assert not settings.hub_dir.exists() and not settings.exchange.exists()
    if other_file:
        assert sorted(p.name for p in base.iterdir()) == ["notes.txt"]
    else:
        assert not base.exists(), f"teardown left {sorted(base.iterdir())} in {base}"
    assert (tmp_path / "srv").is_dir()  # was empty, but setup did not make it
