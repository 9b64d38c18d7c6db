"""What each role sees in JupyterLab: one Jupyter configuration folder per role, as data.

``student/`` and ``instructor/`` are Jupyter configuration folders. A server started with one of
them first in ``JUPYTER_CONFIG_PATH`` gets that role (``make lab`` and ``make lab-instructor``
here; on a class hub each user's server, chosen by the user's group):

* ``jupyter_server_config.json`` switches nbgrader's server extensions on or off;
* ``labconfig/page_config.json`` switches nbgrader's JupyterLab plugins on or off;
* ``custom/custom.css`` (students only) hides what no setting reaches: the Validate button that
  nbgrader's Assignments tab draws on every fetched notebook.

Students keep the Assignments tab (fetch, submit, fetch feedback) and lose the Nbgrader menu,
Formgrader, Create Assignment, Course List and Validate. Validate runs the visible tests only
and says "Success!" while hidden points remain; ``self_check()`` and ``make check`` tell the
whole truth, so the button is gone rather than a second, weaker opinion.

``lab_overrides.json`` holds the JupyterLab settings of the whole environment (both roles):
no news pop-up, and a **Course** menu whose item opens the Assignments tab, because the
Nbgrader menu that normally holds it is an instructor tool. ``python -m autograder.setup_jupyter``
writes it into the environment.

This package is also a Jupyter server extension (enabled by the student folder): JupyterLab
serves ``custom/custom.css`` only from the user's own configuration folder, so the extension
adds the ``custom/`` folder of every configuration folder on the path, the role's included.
It imports nothing of ``autograder`` (whose import arms the grader's audit hook, which has no
place in a Jupyter server) and nothing else beyond the standard library and jupyter_core.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
ROLES = ("student", "instructor")
LAB_OVERRIDES = HERE / "lab_overrides.json"


def role_dir(role: str) -> Path:
    """The Jupyter configuration folder of ``role`` (``"student"`` or ``"instructor"``)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    return HERE / role


def custom_dirs(config_path: list[str]) -> list[str]:
    """The ``custom/`` folders of the configuration folders in ``config_path`` that have one,
    in the path's order (first wins)."""
    found = []
    for folder in config_path:
        custom = Path(folder) / "custom"
        if (custom / "custom.css").is_file() and str(custom) not in found:
            found.append(str(custom))
    return found


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "course_roles"}]


def _load_jupyter_server_extension(serverapp) -> None:
    """Serve ``custom/custom.css`` from the role's folder too, after the user's own folder."""
    from jupyter_core.paths import jupyter_config_path

    # The same list object backs JupyterLab's /custom/ handler, whenever that is registered.
    paths = serverapp.web_app.settings.setdefault("static_custom_path", [])
    position = 1 if paths else 0
    for custom in custom_dirs(jupyter_config_path()):
        if custom not in paths:
            paths.insert(position, custom)
            position += 1
