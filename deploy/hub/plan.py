"""What setup will do, decided before it does anything: a plain function of data.

:func:`make_plan` takes the settings, the roster and a :class:`System` snapshot (what exists on
the machine now) and returns a :class:`Plan`, or raises :class:`PlanError` listing every
problem. Setup changes nothing unless the whole plan is sound: a bad roster line, a name taken
by an account this hub did not make, a missing lesson or not being root stops it before the
first change.

An account belongs to the hub when it is in the students' or the instructors' group (setup
puts every account it makes in one of them); any other account is never touched.
:func:`permission_rules` says who owns what afterwards and with which mode, and
:func:`check_permissions` compares the rules with what the disk says.
"""

from __future__ import annotations

import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .roster import Member
from .settings import HubSettings


class PlanError(ValueError):
    """Setup would go wrong; ``problems`` lists each reason. Nothing has been changed."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("nothing was changed:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class Account:
    """An existing Unix account."""

    name: str
    uid: int
    home: str


@dataclass(frozen=True)
class System:
    """The machine as setup finds it (``system.snapshot`` reads it; tests write it by hand).

    ``course_lessons`` are the lessons with a source notebook in the course folder,
    ``course_released`` those whose released notebook exists (made by ``autograder release``),
    ``exchange_released`` those already in the exchange, ``exchange_course_owner`` the owner
    of the course's exchange folder (None if it does not exist yet), ``owner`` the course
    owner an earlier setup recorded.
    """

    is_root: bool
    accounts: Mapping[str, Account]
    groups: Mapping[str, frozenset[str]]
    homes: frozenset[str] = frozenset()
    owner: str | None = None
    course_lessons: frozenset[str] = frozenset()
    course_released: frozenset[str] = frozenset()
    exchange_released: frozenset[str] = frozenset()
    exchange_course_owner: str | None = None


@dataclass(frozen=True)
class Plan:
    """The changes setup will make, and what it leaves as it is."""

    owner: str
    new_groups: tuple[str, ...]
    new_accounts: tuple[Member, ...]
    kept: tuple[Member, ...]
    not_in_roster: tuple[str, ...]
    release: tuple[str, ...]
    already_released: tuple[str, ...]

    def summary(self) -> list[str]:
        """One line per kind of change, for the person running setup."""
        lines = []
        if self.new_groups:
            lines.append(f"create groups: {', '.join(self.new_groups)}")
        if self.new_accounts:
            names = ", ".join(f"{m.name} ({m.role})" for m in self.new_accounts)
            lines.append(f"create accounts: {names}")
        if self.kept:
            lines.append(f"already on the hub, unchanged: {', '.join(m.name for m in self.kept)}")
        if self.not_in_roster:
            lines.append(
                "on the hub but not in this roster, left as they are: "
                + ", ".join(self.not_in_roster)
            )
        if self.release:
            lines.append(f"release to the exchange: {', '.join(self.release)}")
        if self.already_released:
            lines.append(f"already in the exchange: {', '.join(self.already_released)}")
        lines.append(f"course owner (course folder, exchange): {self.owner}")
        return lines


def make_plan(settings: HubSettings, members: list[Member], system: System) -> Plan:
    """Decide every change, or raise :class:`PlanError` with all the reasons not to."""
    problems: list[str] = []
    if not system.is_root:
        problems.append(
            "run this as root (for example `sudo make hub ROSTER=...`): it creates Unix "
            "accounts, sets permissions and installs under /opt and /srv"
        )
    students, instructors = settings.students_group, settings.instructors_group
    role_group = {"student": students, "instructor": instructors}
    ours = system.groups.get(students, frozenset()) | system.groups.get(instructors, frozenset())

    new_accounts, kept = [], []
    for m in members:
        account = system.accounts.get(m.name)
        if m.name in settings.groups:
            which = "students'" if m.name == students else "instructors'"
            problems.append(f"{m.name!r} names the {which} group; choose another user name")
        elif account is None:
            if m.name in system.groups:
                problems.append(
                    f"{m.name!r}: a group of that name exists already (not made by this hub), "
                    "so the account's own group cannot be made; choose another user name"
                )
            elif f"/home/{m.name}" in system.homes:
                problems.append(
                    f"{m.name!r}: /home/{m.name} exists without an account; move it away or "
                    "choose another user name (the new account must not inherit its files)"
                )
            else:
                new_accounts.append(m)
        elif m.name not in ours:
            problems.append(
                f"{m.name!r} collides with an existing account of this machine (uid "
                f"{account.uid}) that this hub did not create; choose another user name"
            )
        elif m.name not in system.groups.get(role_group[m.role], frozenset()):
            was = "an instructor" if m.role == "student" else "a student"
            problems.append(
                f"{m.name!r} is {was} on this hub and the roster says {m.role}; setup never "
                f"changes a role (move the account between the groups {students} and "
                f"{instructors} with gpasswd if that is what you mean)"
            )
        else:
            kept.append(m)

    listed = {m.name for m in members}
    not_in_roster = tuple(sorted(ours - listed))

    owner = system.owner
    if owner is None:
        first = next((m for m in members if m.is_instructor), None)
        if first is None:
            problems.append(
                "the roster names no instructor: add a line `name,instructor` (the first "
                "instructor keeps the course folder and releases the lessons)"
            )
            owner = ""
        else:
            owner = first.name
    if system.exchange_course_owner not in (None, owner):
        problems.append(
            f"{settings.exchange / settings.course_id} belongs to "
            f"{system.exchange_course_owner!r}, not to the course owner {owner!r}: remove it, "
            "or choose another [course] id"
        )

    release, already = [], []
    for lesson in settings.lessons:
        if lesson in system.exchange_released:
            already.append(lesson)
        elif lesson not in system.course_lessons:
            known = ", ".join(sorted(system.course_lessons)) or "none"
            problems.append(f"lesson {lesson!r} does not exist in the course (lessons: {known})")
        elif lesson not in system.course_released:
            problems.append(
                f"lesson {lesson!r} was never released: lessons/{lesson}/{lesson}.ipynb is "
                f"missing; run `python -m autograder release {lesson}` in the course folder"
            )
        else:
            release.append(lesson)

    if problems:
        raise PlanError(problems)
    new_groups = tuple(g for g in settings.groups if g not in system.groups)
    return Plan(
        owner=owner,
        new_groups=new_groups,
        new_accounts=tuple(new_accounts),
        kept=tuple(kept),
        not_in_roster=not_in_roster,
        release=tuple(release),
        already_released=tuple(already),
    )


# --------------------------------------------------------------------------------------------
# Who owns what, with which mode, once setup is done


@dataclass(frozen=True)
class Rule:
    """``path`` must be owned by ``owner`` with exactly ``mode`` (if ``optional``, only when
    it exists)."""

    path: Path
    owner: str
    mode: int
    why: str
    optional: bool = False


def permission_rules(settings: HubSettings, owner: str, accounts: Mapping[str, str]) -> list[Rule]:
    """The permissions the class relies on. ``accounts`` maps each hub account to its home.

    The exchange modes are nbgrader's own (``release_assignment`` and ``release_feedback``
    make them, and refuse to run under other ones).
    """
    course = settings.exchange / settings.course_id
    rules = [
        Rule(
            settings.exchange,
            "root",
            0o1777 | stat.S_IFDIR,
            "nbgrader needs everyone to be able to write the exchange root; the sticky bit "
            "stops anyone removing what another made",
        ),
        Rule(course, owner, 0o755 | stat.S_IFDIR, "the course's exchange folder: read-only"),
        Rule(
            course / "outbound",
            owner,
            0o755 | stat.S_IFDIR,
            "released lessons: students read them",
        ),
        Rule(
            course / "inbound",
            owner,
            0o2733 | stat.S_IFDIR,
            "submissions: students may create theirs but not list anyone's",
        ),
        Rule(
            course / "feedback",
            owner,
            0o711 | stat.S_IFDIR,
            "feedback: a student opens only the file named by their submission's secret",
            optional=True,
        ),
        Rule(settings.state_dir, "root", 0o700 | stat.S_IFDIR, "hub database and passwords"),
        Rule(settings.jupyter_dir, "root", 0o755 | stat.S_IFDIR, "the class's nbgrader settings"),
    ]
    for name, home in sorted(accounts.items()):
        rules.append(Rule(Path(home), name, 0o700 | stat.S_IFDIR, "a home only its owner reads"))
    return rules


Stat = Callable[[Path], "tuple[str, int] | None"]


def check_permissions(rules: list[Rule], lookup: Stat) -> list[str]:
    """Every rule the disk breaks. ``lookup(path)`` gives ``(owner name, st_mode)`` or None."""
    broken = []
    for rule in rules:
        found = lookup(rule.path)
        if found is None:
            if not rule.optional:
                broken.append(f"{rule.path} is missing ({rule.why})")
            continue
        owner, mode = found
        if owner != rule.owner or mode != rule.mode:
            broken.append(
                f"{rule.path}: {owner} {stat.filemode(mode)}, expected {rule.owner} "
                f"{stat.filemode(rule.mode)} ({rule.why})"
            )
    return broken
