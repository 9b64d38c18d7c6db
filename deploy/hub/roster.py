"""The class roster: a CSV file with one line per person, read into checked members.

Columns (a header line names them; order free, extra columns ignored)::

    username,role
    ada,instructor
    alan,student

``username`` becomes the person's Unix account and nbgrader student id (nbgrader names a
student by the account name), so it follows the Unix rules and nbgrader's: lower-case letters,
digits, ``-`` and ``_``, starting with a letter or ``_``, at most 32 characters, never ``+``
(nbgrader's exchange splits file names on it). ``role`` is ``student`` or ``instructor``.
Blank lines, lines starting with ``#`` and a spreadsheet's byte-order mark are skipped.
Every problem is reported at once, with its line number (``RosterError``).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

USERNAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
ROLES = ("student", "instructor")
# Names a person may not take: system accounts every Linux has, and nbgrader's container user
# (nbgrader reads JUPYTERHUB_USER instead of the account name for it).
RESERVED = frozenset({"root", "daemon", "bin", "sys", "nobody", "admin", "jovyan"})


class RosterError(ValueError):
    """The roster has problems; ``problems`` lists each one."""

    def __init__(self, source: str, problems: list[str]):
        self.problems = problems
        super().__init__(f"{source}:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class Member:
    """One person of the class."""

    name: str
    role: str
    line: int = 0

    @property
    def is_instructor(self) -> bool:
        return self.role == "instructor"


def parse(text: str, source: str = "roster") -> list[Member]:
    """Members in file order; raise :class:`RosterError` listing every problem."""
    lines = [
        (number, line)
        for number, line in enumerate(text.removeprefix("\ufeff").splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines:
        raise RosterError(source, ["it is empty: write a header `username,role`, then a line each"])
    header_number = lines[0][0]
    rows = [next(csv.reader([line])) for _, line in lines]
    header = [h.strip().lower() for h in rows[0]]
    missing = [col for col in ("username", "role") if col not in header]
    if missing:
        raise RosterError(
            source,
            [
                f"line {header_number}: the header {rows[0]!r} lacks {', '.join(missing)}; "
                "the first line must name the columns, e.g. `username,role`"
            ],
        )
    at_name, at_role = header.index("username"), header.index("role")
    problems: list[str] = []
    members: list[Member] = []
    first_line: dict[str, int] = {}
    for (number, _), row in zip(lines[1:], rows[1:], strict=True):
        cells = [cell.strip() for cell in row]
        name = cells[at_name] if at_name < len(cells) else ""
        role = cells[at_role].lower() if at_role < len(cells) else ""
        bad = False
        if not USERNAME.match(name):
            problems.append(
                f"line {number}: {name!r} is not a valid user name: use lower-case letters, "
                "digits, '-' and '_', start with a letter or '_', at most 32 characters"
            )
            bad = True
        elif name in RESERVED:
            problems.append(f"line {number}: {name!r} is reserved for the system; choose another")
            bad = True
        if role not in ROLES:
            problems.append(
                f"line {number}: role {cells[at_role] if at_role < len(cells) else ''!r} "
                f"of {name!r}: write student or instructor"
            )
            bad = True
        if name in first_line:
            problems.append(
                f"line {number}: {name!r} is listed twice (also line {first_line[name]}); "
                "keep one line per person"
            )
            bad = True
        elif name:
            first_line[name] = number
        if not bad:
            members.append(Member(name, role, number))
    if not members and not problems:
        problems.append("it lists nobody: add a line `name,student` or `name,instructor`")
    if problems:
        raise RosterError(source, problems)
    return members


def read(path: str | Path) -> list[Member]:
    """:func:`parse` the file at ``path``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RosterError(str(path), [f"cannot read it: {exc.strerror}"]) from None
    return parse(text, str(path))
