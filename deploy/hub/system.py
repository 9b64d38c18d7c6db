"""The steps that touch the machine: read its state, install, make accounts, run as a user.

Each function does one thing and is safe to repeat. Decisions are made elsewhere
(:mod:`.plan`); these only carry them out, and every failing command says what it ran.
"""

from __future__ import annotations

import contextlib
import fcntl
import grp
import hashlib
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from .plan import Account, System
from .roster import Member
from .settings import HubSettings

RUNTIME_STAMP = "installed.json"
COURSE_PACKAGES = ("nnkit", "autograder", "course_roles")
# Never copied into an instructor's course folder: environments, caches, grading data.
NOT_COURSE = {
    ".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", "build", "dist",
    "test-artifacts", "gradebook.db", "submitted", "autograded", "feedback", "reports",
    ".autograder-secret", ".jupyter-home", ".ipynb_checkpoints",
}  # fmt: skip


class StepFailed(RuntimeError):
    """A command of setup failed; the message names it and shows its output."""


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run ``cmd``; raise :class:`StepFailed` with its output if it fails."""
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    try:
        done = subprocess.run([str(c) for c in cmd], **kwargs)
    except FileNotFoundError as exc:
        raise StepFailed(f"{cmd[0]} is not installed ({exc})") from None
    if done.returncode != 0:
        output = "\n".join(x for x in (done.stdout, done.stderr) if x).strip()[-4000:]
        raise StepFailed(f"`{' '.join(map(str, cmd))}` failed (exit {done.returncode}):\n{output}")
    return done


# --------------------------------------------------------------------------------------------
# Reading the machine


def course_folder(settings: HubSettings, owner: str | None, repo: Path) -> Path:
    """The owner's course folder if it exists, else the repository it will be copied from."""
    if owner:
        try:
            folder = Path(pwd.getpwnam(owner).pw_dir) / settings.course_folder
        except KeyError:
            return repo
        if folder.is_dir():
            return folder
    return repo


def lessons_in(course: Path) -> tuple[frozenset[str], frozenset[str]]:
    """(lessons with a source notebook, lessons with a released notebook) of a course folder."""

    def having(sub: str) -> frozenset[str]:
        root = course / sub
        if not root.is_dir():
            return frozenset()
        return frozenset(d.name for d in root.iterdir() if (d / f"{d.name}.ipynb").is_file())

    return having("solutions"), having("lessons")


def recorded_owner(settings: HubSettings) -> str | None:
    try:
        return json.loads((settings.state_dir / "hub.json").read_text())["owner"]
    except (OSError, ValueError, KeyError):
        return None


def snapshot(settings: HubSettings, repo: Path, members: list[Member]) -> System:
    """What exists now: accounts, groups, homes, the course's lessons, the exchange."""
    groups = {g.gr_name: frozenset(g.gr_mem) for g in grp.getgrall()}
    accounts = {p.pw_name: Account(p.pw_name, p.pw_uid, p.pw_dir) for p in pwd.getpwall()}
    homes = frozenset(f"/home/{m.name}" for m in members if Path(f"/home/{m.name}").exists())
    owner = recorded_owner(settings)
    first = owner or next((m.name for m in members if m.is_instructor), None)
    sources, released = lessons_in(course_folder(settings, first, repo))
    outbound = settings.exchange / settings.course_id / "outbound"
    in_exchange = (
        frozenset(d.name for d in outbound.iterdir() if d.is_dir())
        if outbound.is_dir()
        else frozenset()
    )
    course_dir = settings.exchange / settings.course_id
    course_owner = _owner_name(course_dir) if course_dir.exists() else None
    return System(
        is_root=os.geteuid() == 0,
        accounts=accounts,
        groups=groups,
        homes=homes,
        owner=owner,
        course_lessons=sources,
        course_released=released,
        exchange_released=in_exchange,
        exchange_course_owner=course_owner,
    )


def _owner_name(path: Path) -> str:
    uid = path.stat().st_uid
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def owner_and_mode(path: Path) -> tuple[str, int] | None:
    """``(owner name, st_mode)`` of ``path``, or None if it does not exist."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return None
    try:
        return pwd.getpwuid(st.st_uid).pw_name, st.st_mode
    except KeyError:
        return str(st.st_uid), st.st_mode


# --------------------------------------------------------------------------------------------
# The runtime under /opt


def source_hash(repo: Path) -> str:
    """A hash of what the runtime installs: the course packages' files and pyproject.toml, as
    :func:`course_files` lists them (tracked by git, their contents as on disk)."""
    digest = hashlib.sha256()
    for rel in sorted(course_files(repo)):
        if rel.parts[0] in COURSE_PACKAGES or str(rel) == "pyproject.toml":
            digest.update(str(rel).encode() + b"\0" + (repo / rel).read_bytes() + b"\0")
    return digest.hexdigest()


def runtime_stamp(settings: HubSettings) -> dict:
    try:
        return json.loads((settings.runtime / RUNTIME_STAMP).read_text())
    except (OSError, ValueError):
        return {}


def wanted_stamp(settings: HubSettings, repo: Path) -> dict:
    return {
        "python": str(settings.python),
        "jupyterhub": settings.jupyterhub,
        "proxy": settings.proxy,
        "course": source_hash(repo),
    }


_LOCKS_HELD: set[str] = set()


@contextlib.contextmanager
def runtime_lock(settings: HubSettings) -> Iterator[None]:
    """Hold ``<runtime>.lock``: one install, setup or trial hub at a time uses the runtime
    (another checkout's ``make test`` waits rather than reinstall the course under a running
    hub). Re-entrant within a process."""
    path = f"{settings.runtime}.lock"
    if path in _LOCKS_HELD:
        yield
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        _LOCKS_HELD.add(path)
        try:
            yield
        finally:
            _LOCKS_HELD.discard(path)
            fcntl.flock(fh, fcntl.LOCK_UN)


def install_runtime(settings: HubSettings, repo: Path, say=print) -> dict:
    """Make ``<runtime>/venv`` (the course's runtime packages and JupyterHub, from a Python
    every user can run) and ``<runtime>/proxy`` (configurable-http-proxy from npm); redo only
    what changed since the last install. Returns the stamp written."""
    with runtime_lock(settings):
        return _install_runtime(settings, repo, say)


def _install_runtime(settings: HubSettings, repo: Path, say) -> dict:
    have, want = runtime_stamp(settings), wanted_stamp(settings, repo)
    venv, python = settings.venv, settings.venv / "bin" / "python"
    complete = python.exists() and (venv / "bin" / "jupyterhub").exists()
    node = shutil.which("node") or ""
    if complete and settings.proxy_bin.exists() and node and have == {**want, "node": node}:
        say(f"runtime {settings.runtime} is up to date")
        return have
    if not settings.python.exists():
        raise StepFailed(
            f"{settings.python} is missing: install Debian's python3 and python3-venv "
            "(apt-get install python3 python3-venv), or set [paths] python"
        )
    settings.runtime.mkdir(parents=True, exist_ok=True)
    settings.runtime.chmod(0o755)
    if not python.exists() or have.get("python") != want["python"]:
        say(f"creating {venv} from {settings.python}")
        shutil.rmtree(venv, ignore_errors=True)
        try:
            run([settings.python, "-m", "venv", venv], umask=0o022)
        except StepFailed as exc:
            raise StepFailed(f"{exc}\n(on Debian/Ubuntu: apt-get install python3-venv)") from None
        have = {}
    pip = [python, "-m", "pip", "--disable-pip-version-check", "install", "--quiet"]
    had_course = any(venv.glob("lib/python*/site-packages/nnkit_course-*.dist-info"))
    with tempfile.TemporaryDirectory(prefix="nnkit-course-") as tmp:
        # a clean copy: setuptools would reuse a stale build/ folder of the repository
        source = Path(tmp) / "course"
        copy_files(repo, course_files(repo), source)
        if not complete or have.get("jupyterhub") != want["jupyterhub"]:
            say(f"installing the course's runtime packages and {settings.jupyterhub} (minutes)")
            run([*pip, source, settings.jupyterhub], umask=0o022)
        elif have.get("course") != want["course"]:
            say("updating the course package in the runtime")
            run([*pip, source], umask=0o022)  # new dependencies, if pyproject.toml changed
        if had_course and have.get("course") != want["course"]:
            # same version number, new code: pip would call it "already satisfied"
            run([*pip, "--no-deps", "--force-reinstall", source], umask=0o022)
    run([python, "-m", "autograder.setup_jupyter"], umask=0o022)
    if not node or not shutil.which("npm"):
        say("installing Node.js and npm from Debian's packages (for the proxy)")
        run(["apt-get", "update", "-qq"])
        run(["apt-get", "install", "-y", "-qq", "nodejs", "npm"])
        node = shutil.which("node") or ""
    if not settings.proxy_bin.exists() or have.get("proxy") != want["proxy"]:
        say(f"installing {settings.proxy} from npm")
        proxy = settings.runtime / "proxy"
        proxy.mkdir(exist_ok=True)
        run(
            ["npm", "install", "--prefix", proxy, "--no-audit", "--no-fund", "--loglevel=error",
             settings.proxy],
            umask=0o022,
        )  # fmt: skip
    _check_node_version(node, settings)
    stamp = {**want, "node": node}
    (settings.runtime / RUNTIME_STAMP).write_text(json.dumps(stamp, indent=2) + "\n")
    (settings.runtime / RUNTIME_STAMP).chmod(0o644)
    return stamp


def _check_node_version(node: str, settings: HubSettings) -> None:
    """The proxy's package says which Node.js it needs (``engines``); refuse an older one."""
    package = settings.runtime / "proxy" / "node_modules" / "configurable-http-proxy"
    engines = json.loads((package / "package.json").read_text()).get("engines", {})
    needed = re.search(r">=\s*(\d+)", engines.get("node", ""))
    version = run([node, "--version"]).stdout.strip()  # v20.1.0
    if needed and int(version.lstrip("v").split(".")[0]) < int(needed.group(1)):
        raise StepFailed(
            f"{settings.proxy} needs Node.js {engines['node']}, this machine has {version}: "
            "install a newer Node.js (for example from NodeSource), or set [versions] proxy "
            "in hub.toml to a configurable-http-proxy release that supports this one"
        )


def role_dirs(settings: HubSettings) -> dict[str, str]:
    """Each role's Jupyter configuration folder inside the runtime."""
    code = "import course_roles as r; print(*(r.role_dir(x) for x in r.ROLES), sep='\\n')"
    # from "/": a course folder in the working directory would shadow the runtime's package
    found = run([settings.venv / "bin" / "python", "-c", code], cwd="/").stdout.split()
    return dict(zip(("student", "instructor"), found, strict=True))


# --------------------------------------------------------------------------------------------
# Accounts


def create_group(name: str) -> None:
    run(["groupadd", name])


def new_password() -> str:
    """A first-login password: 14 characters without look-alikes (0/O, 1/l/I)."""
    alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(14))


def create_account(member: Member, settings: HubSettings) -> str:
    """Make the account (home 700, in its role's group) with a new password; return it."""
    group = settings.instructors_group if member.is_instructor else settings.students_group
    run(
        ["useradd", "--create-home", "--shell", settings.shell, "--groups", group,
         "--comment", f"{settings.course_id} {member.role}", member.name]
    )  # fmt: skip
    os.chmod(pwd.getpwnam(member.name).pw_dir, 0o700)
    password = new_password()
    run(["chpasswd"], input=f"{member.name}:{password}\n")
    return password


def save_passwords(settings: HubSettings, passwords: dict[str, str]) -> Path:
    """Append ``name,password`` lines to the root-only ``state/initial-passwords.csv``."""
    path = settings.state_dir / "initial-passwords.csv"
    new = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as fh:
        if new:
            fh.write("username,initial_password\n")
        for name, password in passwords.items():
            fh.write(f"{name},{password}\n")
    return path


def processes_of(uid: int) -> list[int]:
    """PIDs of the processes running as ``uid`` (read from /proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    pids.append(int(entry.name))
            except FileNotFoundError:
                pass
    return pids


def stop_processes_of(uid: int, grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL, every process of ``uid`` (a hub account's servers and kernels)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in processes_of(uid):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while processes_of(uid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if not processes_of(uid):
            return


def remove_account(name: str) -> None:
    """Stop the account's processes, then delete it with its home and mail spool."""
    uid = pwd.getpwnam(name).pw_uid
    stop_processes_of(uid)
    run(["userdel", "--remove", name])


# --------------------------------------------------------------------------------------------
# Folders and files


def write_json(path: Path, data: dict, mode: int, owner: str = "root") -> None:
    """Write ``data`` atomically with ``mode``, owned by ``owner``."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    pw = pwd.getpwnam(owner)
    os.chown(tmp, pw.pw_uid, pw.pw_gid)
    tmp.chmod(mode)
    tmp.replace(path)


def make_dir(path: Path, mode: int, owner: str = "root") -> None:
    path.mkdir(parents=True, exist_ok=True)
    pw = pwd.getpwnam(owner)
    os.chown(path, pw.pw_uid, pw.pw_gid)
    path.chmod(mode)


def course_files(repo: Path) -> list[Path]:
    """The repository's files (git's list of tracked files when it is a git checkout, else all),
    without environments, caches and grading data: what a course folder and the runtime get."""
    try:
        listed = run(["git", "-C", repo, "ls-files", "-z"]).stdout.split("\0")
        files = [Path(f) for f in listed if f]
    except StepFailed:
        files = [p.relative_to(repo) for p in repo.rglob("*") if p.is_file()]
    return [f for f in files if not NOT_COURSE & set(f.parts) and (repo / f).is_file()]


def copy_files(repo: Path, files: list[Path], dest: Path) -> None:
    for rel in files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo / rel, target)


def copy_course(repo: Path, dest: Path, owner: str) -> None:
    """Copy the course into ``dest`` (which must not exist), owned by ``owner``."""
    pw = pwd.getpwnam(owner)
    tmp = dest.with_name(f".{dest.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    copy_files(repo, course_files(repo), tmp)
    for path in [tmp, *tmp.rglob("*")]:
        os.chown(path, pw.pw_uid, pw.pw_gid)
    tmp.rename(dest)


def as_user(name: str, cmd: list, settings: HubSettings, cwd: Path, role: str) -> str:
    """Run ``cmd`` as the account ``name`` with the environment its hub server has."""
    pw = pwd.getpwnam(name)
    env = {
        "HOME": pw.pw_dir,
        "USER": name,
        "LOGNAME": name,
        "PATH": f"{settings.venv / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "JUPYTER_CONFIG_PATH": f"{role_dirs(settings)[role]}:{settings.jupyter_dir}",
    }
    groups = [g.gr_gid for g in grp.getgrall() if name in g.gr_mem]
    done = run(
        cmd, cwd=cwd, env=env, user=pw.pw_uid, group=pw.pw_gid, extra_groups=groups, umask=0o022
    )
    return done.stdout + done.stderr


def gradebook_lessons(course: Path) -> set[str]:
    """Lessons the course's gradebook knows (``autograder release`` puts them there)."""
    db = course / "gradebook.db"
    if not db.is_file():
        return set()
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return {row[0] for row in conn.execute("SELECT name FROM assignment")}
