"""The files setup writes, as plain values: the hub's settings, nbgrader's, a systemd unit.

``hub.json`` is everything the running hub needs (``jupyterhub_config.py`` maps it onto
JupyterHub's options); it is written next to that file in the hub's state folder, so a running
hub depends on neither the repository nor ``hub.toml``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .settings import HubSettings

SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


def hub_json(
    settings: HubSettings, owner: str, role_dirs: dict[str, str], node: str
) -> dict[str, Any]:
    """The running hub's settings. ``role_dirs`` maps a role to its Jupyter configuration
    folder inside the runtime; ``node`` is the interpreter of the proxy."""
    scheme = "https" if settings.ssl_cert else "http"
    state = settings.state_dir
    chp = settings.runtime / "proxy" / "node_modules" / "configurable-http-proxy"
    return {
        "course_id": settings.course_id,
        "owner": owner,
        "bind_url": f"{scheme}://{settings.ip}:{settings.port}",
        "hub_bind_url": f"http://127.0.0.1:{settings.hub_port}",
        "proxy_api_url": f"http://127.0.0.1:{settings.proxy_api_port}",
        "proxy_command": [node, str(chp / "bin" / "configurable-http-proxy")],
        "ssl_cert": settings.ssl_cert,
        "ssl_key": settings.ssl_key,
        "db_url": f"sqlite:///{state / 'jupyterhub.sqlite'}",
        "cookie_secret_file": str(state / "jupyterhub_cookie_secret"),
        "pid_file": str(state / "jupyterhub.pid"),
        "allowed_groups": list(settings.groups),
        "instructors_group": settings.instructors_group,
        "singleuser": str(settings.venv / "bin" / "jupyterhub-singleuser"),
        "path": f"{settings.venv / 'bin'}:{SYSTEM_PATH}",
        # First folder wins: the role, then the class's nbgrader settings.
        "jupyter_config_path": {
            role: f"{folder}:{settings.jupyter_dir}" for role, folder in role_dirs.items()
        },
    }


def class_nbgrader_config(settings: HubSettings) -> dict[str, Any]:
    """nbgrader settings every user's server reads: which course, where the exchange is."""
    return {
        "CourseDirectory": {"course_id": settings.course_id},
        "Exchange": {"root": str(settings.exchange)},
    }


def instructor_nbgrader_config(course_root: Path) -> dict[str, Any]:
    """The course owner's own nbgrader settings: the formgrader's course folder."""
    return {"CourseDirectory": {"root": str(course_root)}}


def systemd_unit(settings: HubSettings) -> str:
    """A systemd service that runs the hub (installed only by hand; see the README)."""
    return f"""[Unit]
Description=Class hub of the course {settings.course_id} (JupyterHub)
After=network.target

[Service]
User=root
WorkingDirectory={settings.state_dir}
ExecStart={settings.venv / "bin" / "jupyterhub"} -f {settings.state_dir / "jupyterhub_config.py"}
Environment=PATH={settings.venv / "bin"}:{SYSTEM_PATH}
Restart=on-failure

[Install]
WantedBy=multi-user.target
"""
