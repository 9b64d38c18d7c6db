"""Setup and teardown of the class hub: the plan first, then the few steps that need root.

:func:`setup` reads the machine, makes the whole plan (:func:`.plan.make_plan`; any problem
stops it before the first change), then installs the runtime, makes groups and accounts, the
exchange and the course folder, releases the lessons as the course owner with nbgrader's own
command, writes the hub's files and checks every permission the class relies on. Run it again
with a longer roster and it only adds the new people.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import signal
import time
from pathlib import Path

from . import render, system
from .plan import Plan, PlanError, check_permissions, make_plan, permission_rules
from .roster import Member
from .settings import HubSettings

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SYSTEM_DIRS = {"/", "/srv", "/opt", "/var", "/home", "/usr", "/usr/local", "/tmp"}


def plan_for(settings: HubSettings, members: list[Member], repo: Path = REPO) -> Plan:
    """The plan for this machine now (raises :class:`PlanError`; changes nothing)."""
    return make_plan(settings, members, system.snapshot(settings, repo, members))


def setup(settings: HubSettings, members: list[Member], repo: Path = REPO, say=print) -> Plan:
    """Bring the hub to what ``settings`` and ``members`` say; return the plan carried out."""
    with system.runtime_lock(settings):
        return _setup(settings, members, repo, say)


def _setup(settings: HubSettings, members: list[Member], repo: Path, say) -> Plan:
    plan = plan_for(settings, members, repo)
    for line in plan.summary():
        say(line)
    os.umask(0o022)  # folders made on the way (parents of the exchange) stay traversable
    system.install_runtime(settings, repo, say)
    roles = system.role_dirs(settings)

    system.make_dir(settings.hub_dir, 0o755)
    system.make_dir(settings.state_dir, 0o700)
    system.make_dir(settings.jupyter_dir, 0o755)
    system.write_json(
        settings.jupyter_dir / "nbgrader_config.json", render.class_nbgrader_config(settings), 0o644
    )

    for group in plan.new_groups:
        system.create_group(group)
    passwords = {}
    for member in plan.new_accounts:
        passwords[member.name] = system.create_account(member, settings)
        say(f"created {member.role} {member.name}")
    if passwords:
        path = system.save_passwords(settings, passwords)
        say(f"first-login passwords of the new accounts: {path} (root only)")

    owner = plan.owner
    system.make_dir(settings.exchange, 0o1777)
    course_exchange = settings.exchange / settings.course_id
    if not course_exchange.exists():
        system.make_dir(course_exchange, 0o755, owner)

    home = Path(pwd.getpwnam(owner).pw_dir)
    course = home / settings.course_folder
    if not course.exists():
        system.copy_course(repo, course, owner)
        say(f"course folder {course} made from {repo}")
    jupyter = home / ".jupyter"
    if not (jupyter / "nbgrader_config.json").exists():
        system.make_dir(jupyter, 0o755, owner)
        system.write_json(
            jupyter / "nbgrader_config.json",
            render.instructor_nbgrader_config(course),
            0o644,
            owner,
        )

    python = str(settings.venv / "bin" / "python")
    ungraded = [x for x in plan.release if x not in system.gradebook_lessons(course)]
    if ungraded:
        say(f"as {owner}: python -m autograder release {' '.join(ungraded)}")
        system.as_user(owner, [python, "-m", "autograder", "release", *ungraded],
                       settings, course, "instructor")  # fmt: skip
    for lesson in plan.release:
        say(f"as {owner}: nbgrader release_assignment {lesson}")
        system.as_user(owner, [settings.venv / "bin" / "nbgrader", "release_assignment", lesson],
                       settings, course, "instructor")  # fmt: skip

    node = system.runtime_stamp(settings).get("node", "node")
    system.write_json(
        settings.state_dir / "hub.json", render.hub_json(settings, owner, roles, node), 0o600
    )
    config = settings.state_dir / "jupyterhub_config.py"
    shutil.copyfile(HERE / "jupyterhub_config.py", config)
    config.chmod(0o600)
    (settings.state_dir / "nnkit-hub.service").write_text(render.systemd_unit(settings))

    homes = {m.name: pwd.getpwnam(m.name).pw_dir for m in members}
    broken = check_permissions(permission_rules(settings, owner, homes), system.owner_and_mode)
    if broken:
        raise system.StepFailed("permissions are not as the class needs:\n" + "\n".join(broken))
    say(f"hub ready: {settings.venv / 'bin' / 'jupyterhub'} -f {config}")
    return plan


def hub_members(settings: HubSettings) -> list[str]:
    """Accounts this hub made: the members of its two groups."""
    names: set[str] = set()
    for group in settings.groups:
        try:
            names |= set(grp.getgrnam(group).gr_mem)
        except KeyError:
            pass
    return sorted(names)


def _stop_recorded(pid_file: Path, *marks: str, grace: float = 15.0) -> bool:
    """Stop the process whose id ``pid_file`` holds, if its command line has every mark."""
    try:
        pid = int(pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except (OSError, ValueError):
        return False
    if not all(mark in cmdline for mark in marks):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    if Path(f"/proc/{pid}").exists():
        os.kill(pid, signal.SIGKILL)
    return True


def stop_hub(settings: HubSettings) -> bool:
    """Stop a hub started with these settings, and its proxy if the hub was killed before it
    could stop the proxy (both found by the pid files in the state folder)."""
    state = settings.state_dir
    hub = _stop_recorded(state / "jupyterhub.pid", "jupyterhub", str(state))
    proxy = _stop_recorded(
        state / "jupyterhub-proxy.pid", "configurable-http-proxy", str(settings.runtime)
    )
    return hub or proxy


def teardown(settings: HubSettings, runtime: bool = False, say=print) -> None:
    """Remove the hub: its accounts (and their homes), groups, exchange course, state; with
    ``runtime`` also the runtime under /opt. Accounts outside the hub's groups are untouched."""
    if os.geteuid() != 0:
        raise PlanError(["run this as root: it removes Unix accounts"])
    if stop_hub(settings):
        say("stopped the running hub")
    for name in hub_members(settings):
        system.remove_account(name)
        say(f"removed account {name}")
    for group in settings.groups:
        if group in {g.gr_name for g in grp.getgrall()}:
            system.run(["groupdel", group])
            say(f"removed group {group}")
    shutil.rmtree(settings.exchange / settings.course_id, ignore_errors=True)
    shutil.rmtree(settings.hub_dir, ignore_errors=True)
    # Folders made on the way, when nothing else is there (the exchange's and the hub's folder
    # may share a parent, which is empty only once both are gone).
    for folder in (settings.exchange, settings.exchange.parent, settings.hub_dir.parent):
        if folder.is_dir() and not any(folder.iterdir()) and str(folder) not in SYSTEM_DIRS:
            folder.rmdir()
    if runtime:
        shutil.rmtree(settings.runtime, ignore_errors=True)
        say(f"removed {settings.runtime}")
    say("hub removed")
