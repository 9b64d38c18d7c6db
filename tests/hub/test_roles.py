"""Do the role folders switch exactly nbgrader's instructor tools off for students?

The names in the role files are checked against the installed nbgrader (its JupyterLab plugin
ids and commands, read from its built extension; its server extension modules), so a renamed
plugin in a new nbgrader fails here instead of silently showing students the tools again.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

import course_roles
from autograder import setup_jupyter

NBGRADER_LABEXT = Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "@jupyter" / "nbgrader"
INSTRUCTOR_PLUGINS = {
    "course-list", "create-assignment", "formgrader", "menu", "validate-assignment"
}  # fmt: skip
INSTRUCTOR_SERVER = {"formgrader", "course_list", "validate_assignment"}


def _json(role: str, name: str) -> dict:
    return json.loads((course_roles.role_dir(role) / name).read_text())


def _nbgrader_js() -> str:
    files = sorted((NBGRADER_LABEXT / "static").glob("*.js"))
    assert files, f"nbgrader's JupyterLab extension is not installed in {NBGRADER_LABEXT}"
    return "".join(f.read_text(errors="replace") for f in files)


def test_every_plugin_named_in_a_role_exists_in_the_installed_nbgrader():
    plugins = set(re.findall(r'"@jupyter/nbgrader:([a-z-]+)"', _nbgrader_js()))
    assert INSTRUCTOR_PLUGINS | {"assignment-list"} <= plugins, plugins
    for role in course_roles.ROLES:
        named = _json(role, "labconfig/page_config.json")["disabledExtensions"]
        assert {n.split(":", 1)[1] for n in named} == plugins, role


def test_students_lose_exactly_the_instructor_plugins_and_keep_the_assignment_list():
    disabled = _json("student", "labconfig/page_config.json")["disabledExtensions"]
    off = {name.split(":", 1)[1] for name, is_off in disabled.items() if is_off}
    assert off == INSTRUCTOR_PLUGINS
    instructor = _json("instructor", "labconfig/page_config.json")["disabledExtensions"]
    assert not any(instructor.values()), "the instructor's role switches a plugin off"


def test_students_lose_the_instructor_server_extensions():
    """Formgrader and validate are switched off on the server too, not only hidden."""
    student = _json("student", "jupyter_server_config.json")["ServerApp"]["jpserver_extensions"]
    instructor = _json("instructor", "jupyter_server_config.json")["ServerApp"][
        "jpserver_extensions"
    ]
    for module in [*student, *instructor]:
        importlib.import_module(module)  # every name is a real module
    prefix = "nbgrader.server_extensions."
    assert {m[len(prefix) :] for m, on in student.items() if m.startswith(prefix) and not on} == (
        INSTRUCTOR_SERVER
    )
    assert student[prefix + "assignment_list"] is True
    assert student["course_roles"] is True
    assert all(instructor.values())


def test_the_course_menu_opens_a_command_nbgrader_has():
    menus = course_roles.LAB_OVERRIDES.read_text()
    commands = set(re.findall(r'"(nbgrader:[a-z-]+)"', menus))
    assert commands == {"nbgrader:open-assignment-list"}
    assert '"nbgrader:open-assignment-list"' in _nbgrader_js()


def test_the_extension_serves_the_role_css_after_the_users_own(tmp_path, monkeypatch):
    user = tmp_path / "user-config"
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(user))
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", str(course_roles.role_dir("student")))
    user_custom = str(user / "custom")
    app = SimpleNamespace(web_app=SimpleNamespace(settings={"static_custom_path": [user_custom]}))
    course_roles._load_jupyter_server_extension(app)
    role_custom = str(course_roles.role_dir("student") / "custom")
    assert app.web_app.settings["static_custom_path"] == [user_custom, role_custom]
    course_roles._load_jupyter_server_extension(app)  # a second load adds nothing
    assert app.web_app.settings["static_custom_path"] == [user_custom, role_custom]


def test_the_student_css_hides_only_the_notebook_rows_buttons():
    """Fetch, Submit and Fetch Feedback sit on assignment rows; Validate on notebook rows."""
    css = (course_roles.role_dir("student") / "custom" / "custom.css").read_text()
    rules = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    assert re.fullmatch(
        r"\s*#nbgrader-assignment-list \.nested_list_item \.item_status button \{\s*"
        r"display: none !important;\s*\}\s*",
        rules,
    ), rules


def test_role_dir_names_the_roles():
    assert course_roles.role_dir("student").name == "student"
    with pytest.raises(ValueError, match="unknown role 'teacher'"):
        course_roles.role_dir("teacher")


def test_setup_jupyter_merges_the_overrides_and_keeps_other_settings(tmp_path):
    settings = tmp_path / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps({"@jupyterlab/apputils-extension:themes": {"theme": "x"}}))
    path = setup_jupyter.main(str(tmp_path))
    written = json.loads(path.read_text())
    assert written["@jupyterlab/apputils-extension:themes"] == {"theme": "x"}
    for plugin, value in setup_jupyter.overrides().items():
        assert written[plugin] == value
