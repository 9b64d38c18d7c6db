"""The class hub's settings: ``hub.toml`` read into one checked, frozen value.

Every problem in the file is collected and reported at once (``SettingsError``), each naming
the key and what to write instead. Nothing here touches the system.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .roster import USERNAME

HERE = Path(__file__).resolve().parent
DEFAULT_SETTINGS = HERE / "hub.toml"
COURSE_ID = re.compile(r"^[A-Za-z0-9_-]+$")
LESSON_ID = re.compile(r"^[A-Za-z0-9_-]+$")


class SettingsError(ValueError):
    """``hub.toml`` has problems; ``problems`` lists each one."""

    def __init__(self, source: str, problems: list[str]):
        self.problems = problems
        super().__init__(f"{source}:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class HubSettings:
    """What ``hub.toml`` says, with the paths derived from it."""

    course_id: str
    course_folder: str
    lessons: tuple[str, ...]
    students_group: str
    instructors_group: str
    shell: str
    python: Path
    runtime: Path
    hub_dir: Path
    exchange: Path
    ip: str
    port: int
    hub_port: int
    proxy_api_port: int
    ssl_cert: str
    ssl_key: str
    jupyterhub: str
    proxy: str

    @property
    def venv(self) -> Path:
        return self.runtime / "venv"

    @property
    def proxy_bin(self) -> Path:
        return self.runtime / "proxy" / "node_modules" / ".bin" / "configurable-http-proxy"

    @property
    def state_dir(self) -> Path:
        """Root-only: the hub's database, cookie secret, configuration, initial passwords."""
        return self.hub_dir / "state"

    @property
    def jupyter_dir(self) -> Path:
        """Readable by everyone: the class's nbgrader settings (course id, exchange)."""
        return self.hub_dir / "jupyter"

    @property
    def groups(self) -> tuple[str, str]:
        return (self.students_group, self.instructors_group)


def read_toml(path: Path) -> dict[str, Any]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError:
            raise SettingsError(
                str(path),
                ["reading TOML needs Python >= 3.11 (or `pip install tomli` for this python)"],
            ) from None
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(str(path), [f"cannot read it: {exc.strerror}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(str(path), [f"not valid TOML: {exc}"]) from None


def load(path: str | Path = DEFAULT_SETTINGS, **overrides: Any) -> HubSettings:
    """Read and check ``path``; ``overrides`` replace keys by name (tests use other ports)."""
    path = Path(path)
    return from_dict(read_toml(path), str(path), **overrides)


def from_dict(data: dict[str, Any], source: str = "hub.toml", **overrides: Any) -> HubSettings:
    """Check the parsed TOML ``data``; raise :class:`SettingsError` listing every problem."""
    problems: list[str] = []
    sections = {
        "course": ("id", "folder", "lessons"),
        "accounts": ("students_group", "instructors_group", "shell"),
        "paths": ("python", "runtime", "hub_dir", "exchange"),
        "hub": ("ip", "port", "hub_port", "proxy_api_port", "ssl_cert", "ssl_key"),
        "versions": ("jupyterhub", "proxy"),
    }
    flat: dict[str, Any] = {}
    for section, keys in sections.items():
        table = data.get(section)
        if not isinstance(table, dict):
            problems.append(f"[{section}] is missing (keys {', '.join(keys)})")
            continue
        for key in table:
            if key not in keys:
                problems.append(f"[{section}] {key}: unknown key (known: {', '.join(keys)})")
        for key in keys:
            if key not in table:
                problems.append(f"[{section}] {key} is missing")
            else:
                flat[f"{section}.{key}"] = table[key]
    for key in data:
        if key not in sections:
            problems.append(f"[{key}]: unknown section (known: {', '.join(sections)})")
    if problems:
        raise SettingsError(source, problems)

    values = {
        "course_id": flat["course.id"],
        "course_folder": flat["course.folder"],
        "lessons": flat["course.lessons"],
        "students_group": flat["accounts.students_group"],
        "instructors_group": flat["accounts.instructors_group"],
        "shell": flat["accounts.shell"],
        "python": flat["paths.python"],
        "runtime": flat["paths.runtime"],
        "hub_dir": flat["paths.hub_dir"],
        "exchange": flat["paths.exchange"],
        "ip": flat["hub.ip"],
        "port": flat["hub.port"],
        "hub_port": flat["hub.hub_port"],
        "proxy_api_port": flat["hub.proxy_api_port"],
        "ssl_cert": flat["hub.ssl_cert"],
        "ssl_key": flat["hub.ssl_key"],
        "jupyterhub": flat["versions.jupyterhub"],
        "proxy": flat["versions.proxy"],
    }
    for key, value in overrides.items():
        if key not in values:
            raise TypeError(f"unknown setting {key!r}")
        values[key] = value
    problems = _problems(values)
    if problems:
        raise SettingsError(source, problems)
    for key in ("python", "runtime", "hub_dir", "exchange"):
        values[key] = Path(values[key])
    values["lessons"] = tuple(values["lessons"])
    return HubSettings(**values)


def _problems(v: dict[str, Any]) -> list[str]:
    out = []
    if not isinstance(v["course_id"], str) or not COURSE_ID.match(v["course_id"]):
        out.append(
            f"[course] id = {v['course_id']!r}: use letters, digits, '-' and '_' only "
            "(it names a folder in the exchange)"
        )
    folder = v["course_folder"]
    if not isinstance(folder, str) or not folder or "/" in folder or folder in (".", ".."):
        out.append(f'[course] folder = {folder!r}: a plain folder name, such as "course"')
    lessons = v["lessons"]
    if not isinstance(lessons, list | tuple) or not lessons:
        out.append('[course] lessons: a non-empty list of lesson ids, such as ["01_neurons"]')
    else:
        for lesson in lessons:
            if not isinstance(lesson, str) or not LESSON_ID.match(lesson):
                out.append(f'[course] lessons: {lesson!r} is not a lesson id (like "01_neurons")')
        twice = sorted({x for x in lessons if list(lessons).count(x) > 1})
        if twice:
            out.append(f"[course] lessons: listed twice: {', '.join(map(str, twice))}")
    for key in ("students_group", "instructors_group"):
        name = v[key]
        if not isinstance(name, str) or not USERNAME.match(name):
            out.append(
                f"[accounts] {key} = {name!r}: a Unix group name (lower-case letters, digits, "
                "'-', '_'; at most 32 characters)"
            )
    if v["students_group"] == v["instructors_group"]:
        out.append("[accounts] students_group and instructors_group must differ")
    for key, section in (
        ("shell", "accounts"),
        ("python", "paths"),
        ("runtime", "paths"),
        ("hub_dir", "paths"),
        ("exchange", "paths"),
    ):
        value = v[key]
        if not isinstance(value, str | Path) or not str(value).startswith("/"):
            out.append(f"[{section}] {key} = {value!r}: an absolute path")
        elif str(value).rstrip("/") in ("", "/home", "/root", "/usr", "/etc", "/opt", "/srv"):
            out.append(f"[{section}] {key} = {value!r}: a folder of its own, not a system folder")
    if not isinstance(v["ip"], str):
        out.append(f'[hub] ip = {v["ip"]!r}: an IP address as a string ("" = every interface)')
    for key in ("port", "hub_port", "proxy_api_port"):
        port = v[key]
        if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
            out.append(f"[hub] {key} = {port!r}: a TCP port number, 1 to 65535")
    ports = [v[k] for k in ("port", "hub_port", "proxy_api_port")]
    if len(set(map(str, ports))) < 3:
        out.append("[hub] port, hub_port and proxy_api_port must be three different ports")
    if bool(v["ssl_cert"]) != bool(v["ssl_key"]):
        out.append("[hub] ssl_cert and ssl_key go together: set both or neither")
    for key in ("jupyterhub", "proxy"):
        if not isinstance(v[key], str) or not v[key]:
            out.append(f"[versions] {key}: a package specification, such as the default")
    return out
