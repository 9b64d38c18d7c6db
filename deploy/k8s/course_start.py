"""Entry point of the course's single-user image: a Unix identity per hub user, then drop root.

nbgrader names a student by the Unix user name of the process (``JUPYTERHUB_USER`` only when
that name is ``jovyan``, and a student can change an environment variable, not a uid), and its
exchange keeps students apart only when they are different Unix users. On Kubernetes every
server would otherwise run as ``jovyan``, uid 1000: any student could list, read and replace
every submission. So each server starts as root (``singleuser.uid: 0`` in ``values.yaml``) and
this script, before anything of the user runs:

1. reads what the hub wrote into the pod's spec, which the user cannot change:
   ``JUPYTERHUB_USER`` (the name), ``COURSE_USER_ID`` (the hub's numeric user id) and
   ``COURSE_ROLE`` (``student`` or ``instructor``, set by the hub from the group
   ``instructors``);
2. adds the user to ``/etc/passwd``: uid ``UID_BASE + id``, group ``users`` (100); instructors
   also get the group ``course-instructors`` (``INSTRUCTORS_GID``);
3. lays out the course's exchange folders, owned by root and the instructors' group, with
   nbgrader's group-shared modes: ``outbound`` 2775 (students read), ``inbound`` 2773 (students
   create a submission, cannot list the folder), ``feedback`` 2771 (students read their own
   feedback by its name, cannot list); for instructors also the course folder, 2770;
4. starts the server with the role's Jupyter configuration folder first in
   ``JUPYTER_CONFIG_PATH`` (``python -m autograder.setup_jupyter --role ROLE`` prints it):
   students get the Assignments tab and no instructor tools;
5. gives the home folder to the user and runs the command as the user (``setpriv``).

The decisions are plain functions (tested without root); :func:`main` applies them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

UID_BASE = 200_000
USERS_GID = 100
INSTRUCTORS_GID = 2000
INSTRUCTORS_GROUP = "course-instructors"
HOME = Path("/home/jovyan")
EXCHANGE = Path("/srv/nbgrader/exchange")
COURSE_FOLDER = HOME / "course"  # the instructors' shared course folder (mounted for them only)
ROLES = ("student", "instructor")
# The hub's username_pattern (values.yaml) admits the same names: valid, portable Unix names.
NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
COURSE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class StartError(RuntimeError):
    """The pod cannot start safely; the message says what to change."""


@dataclass(frozen=True)
class Identity:
    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]
    role: str


@dataclass(frozen=True)
class Folder:
    path: Path
    mode: int
    gid: int


def identity_from_env(env: dict[str, str]) -> Identity:
    """The user's Unix identity from the variables the hub sets in the pod."""
    name = env.get("JUPYTERHUB_USER", "")
    if not NAME.match(name):
        raise StartError(
            f"JUPYTERHUB_USER={name!r} is not a valid Unix user name (lower-case letters, digits, "
            "_ and -, at most 32, not starting with a digit or -); keep "
            "hub.config.Authenticator.username_pattern of deploy/k8s/values.yaml"
        )
    raw_id = env.get("COURSE_USER_ID", "")
    if not raw_id.isdigit() or int(raw_id) < 1:
        raise StartError(
            f"COURSE_USER_ID={raw_id!r} is not the hub's numeric user id; set "
            'singleuser.extraEnv.COURSE_USER_ID: "{userid}" in the Helm values'
        )
    role = env.get("COURSE_ROLE", "")
    if role not in ROLES:
        raise StartError(
            f"COURSE_ROLE={role!r} must be one of {ROLES}; the hub's pre-spawn hook "
            "(hub.extraConfig.course-roles.py in the Helm values) sets it"
        )
    groups = (INSTRUCTORS_GID,) if role == "instructor" else ()
    return Identity(name, UID_BASE + int(raw_id), USERS_GID, groups, role)


def add_user(identity: Identity, passwd: str, group: str) -> tuple[str, str]:
    """``/etc/passwd`` and ``/etc/group`` with the user (and the instructors' group) added.

    Idempotent; a name or uid already taken by another account is an error, never reused.
    """
    entry = f"{identity.name}:x:{identity.uid}:{identity.gid}::{HOME}:/bin/bash"
    for line in passwd.splitlines():
        fields = line.split(":")
        if len(fields) < 3:
            continue
        if line == entry:
            break
        if fields[0] == identity.name or fields[2] == str(identity.uid):
            raise StartError(
                f"the hub user {identity.name!r} (uid {identity.uid}) collides with the image's "
                f"account {line!r}; rename the hub user (no system account names)"
            )
    else:
        passwd = passwd.rstrip("\n") + "\n" + entry + "\n"
    names = {line.split(":")[0] for line in group.splitlines()}
    if INSTRUCTORS_GROUP not in names:
        group = group.rstrip("\n") + f"\n{INSTRUCTORS_GROUP}:x:{INSTRUCTORS_GID}:\n"
    return passwd, group


def exchange_layout(exchange: Path, course_id: str, role: str) -> list[Folder]:
    """The folders to own by root and the instructors' group, with their modes, parents first."""
    if not COURSE_ID.match(course_id):
        raise StartError(
            f"NBGRADER_COURSE_ID={course_id!r}: use letters, digits, _, . and - only "
            "(singleuser.extraEnv.NBGRADER_COURSE_ID in the Helm values)"
        )
    course = exchange / course_id
    folders = [
        Folder(exchange, 0o755, 0),
        Folder(course, 0o2775, INSTRUCTORS_GID),
        Folder(course / "outbound", 0o2775, INSTRUCTORS_GID),
        Folder(course / "inbound", 0o2773, INSTRUCTORS_GID),
        Folder(course / "feedback", 0o2771, INSTRUCTORS_GID),
    ]
    if role == "instructor":
        folders.append(Folder(COURSE_FOLDER, 0o2770, INSTRUCTORS_GID))
    return folders


def apply_layout(folders: list[Folder]) -> None:
    """Create each folder, give it to root and its group, set its mode (needs root)."""
    for folder in folders:
        try:
            folder.path.mkdir(parents=True, exist_ok=True)
            os.chown(folder.path, 0, folder.gid)
            os.chmod(folder.path, folder.mode)
        except OSError as exc:
            raise StartError(
                f"cannot make {folder.path} root-owned with group {folder.gid} and mode "
                f"{folder.mode:o} ({exc}); the shared volume must let root in the pod change "
                "owners (NFS: no_root_squash), see deploy/k8s/README.md, step 3"
            ) from exc


def setpriv_command(identity: Identity, command: list[str]) -> list[str]:
    """Run ``command`` as the user: its uid and groups, no capabilities, no way back to root."""
    groups = ",".join(str(g) for g in identity.groups)
    return [
        "setpriv",
        f"--reuid={identity.uid}",
        f"--regid={identity.gid}",
        f"--groups={groups}" if groups else "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
        "--",
        *command,
    ]


def role_config_dir(printed: str, role: str) -> Path:
    """The role's Jupyter configuration folder, from what ``setup_jupyter --role`` printed."""
    lines = printed.strip().splitlines()
    folder = Path(lines[-1].strip()) if lines else None
    if folder is None or not folder.is_absolute() or not folder.is_dir():
        raise StartError(
            f"`python -m autograder.setup_jupyter --role {role}` printed {printed.strip()!r}, "
            "not the role's Jupyter configuration folder; build the image from a version of "
            "the course that has the role folders (course_roles)"
        )
    return folder


def user_environment(identity: Identity, env: dict[str, str], role_dir: Path) -> dict[str, str]:
    """The server's environment: the user's names and home, the role's folder first."""
    config_path = [str(role_dir), *filter(None, env.get("JUPYTER_CONFIG_PATH", "").split(":"))]
    return {
        **env,
        "JUPYTER_CONFIG_PATH": ":".join(config_path),
        "HOME": str(HOME),
        "USER": identity.name,
        "LOGNAME": identity.name,
        "SHELL": "/bin/bash",
    }


def own_home(identity: Identity) -> None:
    """Give the home volume to the user (all of it only when it belonged to someone else)."""
    if HOME.stat().st_uid == identity.uid:
        return
    for root, dirs, files in os.walk(HOME):
        for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
            if Path(name).is_relative_to(COURSE_FOLDER):
                continue
            os.lchown(name, identity.uid, identity.gid)


def main(argv: list[str], env: dict[str, str] | None = None) -> int:
    env = dict(os.environ if env is None else env)
    if not argv:
        raise StartError("usage: course_start.py COMMAND [ARGS...] (the server command)")
    if os.geteuid() != 0:
        raise StartError(
            "course_start.py must start as root to give the user its own uid; set "
            "singleuser.uid: 0 in the Helm values (the server itself never runs as root)"
        )
    identity = identity_from_env(env)
    etc = Path("/etc")
    passwd, group = add_user(identity, (etc / "passwd").read_text(), (etc / "group").read_text())
    (etc / "passwd").write_text(passwd)
    (etc / "group").write_text(group)
    apply_layout(exchange_layout(EXCHANGE, env.get("NBGRADER_COURSE_ID", "nnkit"), identity.role))
    printed = subprocess.run(
        [sys.executable, "-m", "autograder.setup_jupyter", "--role", identity.role],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    role_dir = role_config_dir(printed, identity.role)
    own_home(identity)
    os.chdir(HOME)
    command = setpriv_command(identity, argv)
    os.execvpe(command[0], command, user_environment(identity, env, role_dir))
    return 1  # not reached


if __name__ == "__main__":
    try:
        raise SystemExit(main(sys.argv[1:]))
    except StartError as exc:
        print(f"course_start: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
