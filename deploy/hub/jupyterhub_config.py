"""JupyterHub configuration of the class hub: ``hub.json`` (next to this file) mapped onto
JupyterHub's options. Setup copies both into the hub's state folder; edit ``hub.toml`` and run
setup again rather than editing them.

* Login: PAM, the accounts setup made (initial passwords in ``state/initial-passwords.csv``);
  members of the students' and instructors' groups may log in, so students added by a later
  setup can log in without a restart.
* Each user's server runs as that user (LocalProcessSpawner), from the runtime under /opt,
  with the role chosen by group: ``JUPYTER_CONFIG_PATH`` starts with the role's folder
  (``course_roles/student`` or ``course_roles/instructor``), then the class's nbgrader settings.
* No hub admins: an admin could open any student's server.
"""

import grp
import json
from pathlib import Path

c = get_config()  # noqa: F821
hub = json.loads((Path(__file__).resolve().parent / "hub.json").read_text(encoding="utf-8"))

c.JupyterHub.bind_url = hub["bind_url"]
c.JupyterHub.hub_bind_url = hub["hub_bind_url"]
c.JupyterHub.db_url = hub["db_url"]
c.JupyterHub.cookie_secret_file = hub["cookie_secret_file"]
c.JupyterHub.pid_file = hub["pid_file"]
if hub["ssl_cert"]:
    c.JupyterHub.ssl_cert = hub["ssl_cert"]
    c.JupyterHub.ssl_key = hub["ssl_key"]
c.ConfigurableHTTPProxy.api_url = hub["proxy_api_url"]
c.ConfigurableHTTPProxy.command = hub["proxy_command"]

c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.open_sessions = False
c.Authenticator.allowed_groups = set(hub["allowed_groups"])
c.Authenticator.admin_users = set()

c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [hub["singleuser"]]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.env_keep = ["LANG", "LC_ALL"]
c.Spawner.start_timeout = 120  # a busy machine starts 20 servers at once
c.Spawner.http_timeout = 120


def role_of(username: str, members_of=lambda group: grp.getgrnam(group).gr_mem) -> str:
    """``instructor`` for members of the instructors' group, else ``student`` (read at each
    server start, so moving an account between the groups needs no restart of the hub)."""
    try:
        return "instructor" if username in members_of(hub["instructors_group"]) else "student"
    except KeyError:
        return "student"


def role_config_path(spawner) -> str:
    return hub["jupyter_config_path"][role_of(spawner.user.name)]


c.Spawner.environment = {"PATH": hub["path"], "JUPYTER_CONFIG_PATH": role_config_path}
