"""``python -m deploy.hub COMMAND``: the class hub's command line (``make hub`` runs it).

    check     show what setup would do with this roster; change nothing
    install   install the runtime under /opt (JupyterHub, the course, the proxy)
    setup     install, make accounts, exchange and course folder, release the lessons
    start     run the hub in the foreground (Ctrl-C stops it and the users' servers)
    teardown  remove the hub's accounts and their homes (the course folder and gradebook with
              them: copy those first), groups, exchange course and state; needs --yes

Every command but ``check`` needs root. Settings come from ``deploy/hub/hub.toml`` unless
``--settings`` names another file.
"""

from __future__ import annotations

import argparse
import os
import sys

from . import roster, system
from .plan import PlanError
from .settings import DEFAULT_SETTINGS, SettingsError, load
from .setup import REPO, hub_members, plan_for, setup, teardown


def _need_root(what: str) -> None:
    if os.geteuid() != 0:
        raise PlanError([f"run this as root (for example `sudo make {what}`)"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.hub",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--settings", default=str(DEFAULT_SETTINGS), help="the hub's TOML file")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("check", "setup"):
        p = sub.add_parser(name)
        p.add_argument("--roster", required=True, help="CSV: username,role")
    sub.add_parser("install")
    sub.add_parser("start")
    p = sub.add_parser("teardown")
    p.add_argument("--runtime", action="store_true", help="also remove the runtime under /opt")
    p.add_argument("--yes", action="store_true", help="really remove them")
    args = parser.parse_args(argv)
    try:
        settings = load(args.settings)
        if args.command == "check":
            plan = plan_for(settings, roster.read(args.roster))
            print("\n".join(plan.summary()))
        elif args.command == "setup":
            setup(settings, roster.read(args.roster))
        elif args.command == "install":
            _need_root("hub-runtime")
            system.install_runtime(settings, REPO)
        elif args.command == "start":
            _need_root("hub")
            config = settings.state_dir / "jupyterhub_config.py"
            if not config.is_file():
                raise PlanError([f"{config} is missing: run setup first (make hub ROSTER=...)"])
            hub = settings.venv / "bin" / "jupyterhub"
            env = {**os.environ, "PATH": f"{settings.venv / 'bin'}:/usr/local/bin:/usr/bin:/bin"}
            os.chdir(settings.state_dir)
            os.execve(hub, [str(hub), "-f", str(config)], env)
        elif args.command == "teardown":
            if not args.yes:
                people = ", ".join(hub_members(settings)) or "none"
                raise PlanError(
                    [
                        f"teardown deletes the hub's accounts with their homes ({people}), the "
                        f"course folder and gradebook among them, and {settings.hub_dir}; "
                        "copy what you keep, then run it again with --yes"
                    ]
                )
            teardown(settings, runtime=args.runtime)
    except (SettingsError, roster.RosterError, PlanError, system.StepFailed) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
