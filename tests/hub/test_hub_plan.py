"""Does setup decide right before it changes anything, and is the hub configured as it says?

Plain functions on a hand-written machine (:class:`deploy.hub.plan.System`): no root, no
accounts. The real machine is in ``test_hub_setup_root.py`` and the end-to-end test.
"""

from __future__ import annotations

import grp
import json
import shutil
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest
from traitlets.config.loader import PyFileConfigLoader

from deploy.hub import render
from deploy.hub.__main__ import main
from deploy.hub.plan import (
    Account,
    PlanError,
    Rule,
    System,
    check_permissions,
    make_plan,
    permission_rules,
)
from deploy.hub.roster import Member
from deploy.hub.settings import load

HUB = Path(__file__).resolve().parents[2] / "deploy" / "hub"
S = load()
ADA, ALAN = Member("ada", "instructor"), Member("alan", "student")
GRACE = Member("grace", "student")
ALL_LESSONS = frozenset(S.lessons)


def machine(**changes) -> System:
    """A fresh Debian machine with the course's lessons, plus ``changes``."""
    base = {
        "is_root": True,
        "accounts": {
            "root": Account("root", 0, "/root"),
            "mail": Account("mail", 8, "/var/mail"),
        },
        "groups": {"root": frozenset(), "mail": frozenset(), "users": frozenset()},
        "course_lessons": ALL_LESSONS,
        "course_released": ALL_LESSONS,
    }
    base.update(changes)
    return System(**base)


def on_hub(system: System, *members: Member) -> System:
    """``system`` after an earlier setup made ``members``."""
    accounts = dict(system.accounts)
    groups = {**system.groups, S.students_group: frozenset(), S.instructors_group: frozenset()}
    for m in members:
        group = S.instructors_group if m.is_instructor else S.students_group
        accounts[m.name] = Account(m.name, 1000 + len(accounts), f"/home/{m.name}")
        groups[group] = groups[group] | {m.name}
        groups[m.name] = frozenset()
    return System(
        **{**system.__dict__, "accounts": accounts, "groups": groups, "owner": "ada",
           "exchange_released": ALL_LESSONS, "exchange_course_owner": "ada"}
    )  # fmt: skip


def problems(members, system) -> list[str]:
    with pytest.raises(PlanError) as err:
        make_plan(S, members, system)
    assert str(err.value).startswith("nothing was changed:")
    return err.value.problems


def test_a_fresh_machine_gets_groups_accounts_and_every_lesson():
    plan = make_plan(S, [ADA, ALAN, GRACE], machine())
    assert plan.new_groups == S.groups
    assert plan.new_accounts == (ADA, ALAN, GRACE)
    assert plan.owner == "ada"
    assert plan.release == S.lessons and plan.already_released == ()
    assert plan.kept == () and plan.not_in_roster == ()


def test_a_second_run_with_one_more_student_only_adds_that_student():
    before = on_hub(machine(), ADA, ALAN)
    plan = make_plan(S, [ADA, ALAN, GRACE], before)
    assert plan.new_groups == () and plan.new_accounts == (GRACE,)
    assert plan.kept == (ADA, ALAN)
    assert plan.release == () and plan.already_released == S.lessons
    assert make_plan(S, [ADA, ALAN], before).summary()[0].startswith("already on the hub")


def test_people_missing_from_a_later_roster_are_left_alone_and_said_so():
    plan = make_plan(S, [ADA], on_hub(machine(), ADA, ALAN, GRACE))
    assert plan.not_in_roster == ("alan", "grace")
    assert plan.new_accounts == ()


def test_not_root_is_refused_along_with_every_other_problem():
    found = problems([ALAN], machine(is_root=False))
    assert found[0].startswith("run this as root")
    assert "the roster names no instructor" in found[1]


def test_a_name_taken_by_a_system_account_is_refused():
    (found,) = problems([ADA, Member("mail", "student")], machine())
    assert found.startswith("'mail' collides with an existing account of this machine (uid 8)")


def test_a_name_taken_by_a_group_or_an_orphaned_home_is_refused():
    found = problems(
        [ADA, Member("users", "student"), Member("ghost", "student")],
        machine(homes=frozenset({"/home/ghost"})),
    )
    assert found[0].startswith("'users': a group of that name exists already")
    assert found[1].startswith("'ghost': /home/ghost exists without an account")


def test_a_name_that_is_one_of_the_hubs_groups_is_refused():
    (found,) = problems([ADA, Member("nnkit-students", "student")], machine())
    assert found == "'nnkit-students' names the students' group; choose another user name"


def test_setup_never_changes_a_role():
    (found,) = problems([ADA, Member("alan", "instructor")], on_hub(machine(), ADA, ALAN))
    assert found.startswith("'alan' is a student on this hub and the roster says instructor")


def test_the_first_instructor_owns_the_course_and_stays_its_owner():
    plan = make_plan(S, [ALAN, Member("bea", "instructor"), ADA], machine())
    assert plan.owner == "bea"
    later = make_plan(S, [ALAN, Member("zoe", "instructor")], on_hub(machine(), ADA, ALAN))
    assert later.owner == "ada"  # recorded by the first setup


def test_an_exchange_folder_someone_else_owns_is_refused():
    (found,) = problems([ADA, ALAN], machine(exchange_course_owner="mallory"))
    assert "belongs to 'mallory', not to the course owner 'ada'" in found


def test_an_unknown_lesson_and_a_lesson_never_released_are_refused():
    system = machine(
        course_lessons=frozenset({"01_neurons", "02_softmax"}),
        course_released=frozenset({"01_neurons"}),
    )
    found = problems([ADA], system)
    assert found[0] == (
        "lesson '02_softmax' was never released: lessons/02_softmax/02_softmax.ipynb is "
        "missing; run `python -m autograder release 02_softmax` in the course folder"
    )
    assert found[1] == (
        "lesson '03_backprop' does not exist in the course (lessons: 01_neurons, 02_softmax)"
    )


# --------------------------------------------------------------------------------------------
# permissions


def test_the_rules_are_nbgraders_exchange_modes_and_private_homes():
    rules = {r.path: r for r in permission_rules(S, "ada", {"ada": "/home/ada"})}
    course = S.exchange / S.course_id
    assert stat.filemode(rules[S.exchange].mode) == "drwxrwxrwt"
    assert stat.filemode(rules[course / "inbound"].mode) == "drwx-ws-wx"
    assert stat.filemode(rules[course / "outbound"].mode) == "drwxr-xr-x"
    assert stat.filemode(rules[course / "feedback"].mode) == "drwx--x--x"
    assert rules[course / "feedback"].optional
    assert stat.filemode(rules[Path("/home/ada")].mode) == "drwx------"
    assert rules[Path("/home/ada")].owner == "ada"
    assert stat.filemode(rules[S.state_dir].mode) == "drwx------"


def test_broken_permissions_are_each_named():
    rules = [
        Rule(Path("/x/home"), "ada", 0o700 | stat.S_IFDIR, "private"),
        Rule(Path("/x/inbound"), "ada", 0o2733 | stat.S_IFDIR, "write only"),
        Rule(Path("/x/feedback"), "ada", 0o711 | stat.S_IFDIR, "opt", optional=True),
        Rule(Path("/x/missing"), "root", 0o755 | stat.S_IFDIR, "needed"),
    ]
    disk = {
        Path("/x/home"): ("ada", 0o755 | stat.S_IFDIR),
        Path("/x/inbound"): ("ada", 0o2733 | stat.S_IFDIR),
    }
    assert check_permissions(rules, disk.get) == [
        "/x/home: ada drwxr-xr-x, expected ada drwx------ (private)",
        "/x/missing is missing (needed)",
    ]


# --------------------------------------------------------------------------------------------
# What the hub reads


ROLES = {"student": "/opt/r/student", "instructor": "/opt/r/instructor"}


def test_hub_json_puts_the_role_first_and_the_class_settings_second():
    hub = render.hub_json(S, "ada", ROLES, "/usr/bin/node")
    assert hub["jupyter_config_path"] == {
        "student": "/opt/r/student:/srv/nnkit-hub/jupyter",
        "instructor": "/opt/r/instructor:/srv/nnkit-hub/jupyter",
    }
    assert hub["bind_url"] == "http://:8000"
    assert hub["hub_bind_url"] == "http://127.0.0.1:8081"
    assert hub["proxy_command"][0] == "/usr/bin/node"
    assert hub["allowed_groups"] == ["nnkit-students", "nnkit-instructors"]
    assert render.class_nbgrader_config(S) == {
        "CourseDirectory": {"course_id": "nnkit"},
        "Exchange": {"root": "/srv/nbgrader/exchange"},
    }


def test_tls_settings_make_an_https_hub():
    data = load().__dict__ | {"ssl_cert": "/etc/c.pem", "ssl_key": "/etc/k.pem"}
    hub = render.hub_json(type(S)(**data), "ada", ROLES, "node")
    assert hub["bind_url"].startswith("https://") and hub["ssl_key"] == "/etc/k.pem"


@pytest.fixture
def hub_config(tmp_path):
    shutil.copy(HUB / "jupyterhub_config.py", tmp_path)
    hub = render.hub_json(S, "ada", ROLES, "/usr/bin/node")
    (tmp_path / "hub.json").write_text(json.dumps(hub))
    return PyFileConfigLoader("jupyterhub_config.py", path=str(tmp_path)).load_config()


def test_jupyterhub_config_maps_hub_json_onto_jupyterhubs_options(hub_config):
    c = hub_config
    assert c.JupyterHub.bind_url == "http://:8000"
    assert c.JupyterHub.authenticator_class == "pam"
    assert c.Authenticator.allowed_groups == {"nnkit-students", "nnkit-instructors"}
    assert c.Authenticator.admin_users == set()
    assert c.JupyterHub.spawner_class == "localprocess"
    assert c.Spawner.cmd == ["/opt/nnkit-hub/venv/bin/jupyterhub-singleuser"]
    assert c.Spawner.environment["PATH"].startswith("/opt/nnkit-hub/venv/bin:")
    assert c.ConfigurableHTTPProxy.api_url == "http://127.0.0.1:8001"


def test_each_users_server_gets_the_role_of_their_group(hub_config, monkeypatch):
    teachers = {"nnkit-instructors": SimpleNamespace(gr_mem=["ada"])}
    monkeypatch.setattr(grp, "getgrnam", lambda name: teachers[name])
    choose = hub_config.Spawner.environment["JUPYTER_CONFIG_PATH"]
    spawner = lambda name: SimpleNamespace(user=SimpleNamespace(name=name))  # noqa: E731
    assert choose(spawner("ada")).startswith("/opt/r/instructor:")
    assert choose(spawner("alan")).startswith("/opt/r/student:")
    monkeypatch.setattr(grp, "getgrnam", lambda name: teachers["missing"])  # KeyError
    assert choose(spawner("ada")).startswith("/opt/r/student:")


# --------------------------------------------------------------------------------------------
# The command line


def test_check_with_a_bad_roster_says_what_is_wrong(tmp_path, capsys):
    roster = tmp_path / "roster.csv"
    roster.write_text("username,role\nada,instructor\nada,student\n")
    assert main(["check", "--roster", str(roster)]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "'ada' is listed twice (also line 2)" in err


def test_setup_as_another_user_than_root_changes_nothing(tmp_path, capsys, monkeypatch):
    import os

    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    roster = tmp_path / "roster.csv"
    roster.write_text("username,role\nada,instructor\n")
    settings = tmp_path / "hub.toml"
    settings.write_text(
        (HUB / "hub.toml")
        .read_text()
        .replace('hub_dir = "/srv/nnkit-hub"', f'hub_dir = "{tmp_path}/hub"')
        .replace('runtime = "/opt/nnkit-hub"', f'runtime = "{tmp_path}/runtime"')
    )
    assert main(["--settings", str(settings), "setup", "--roster", str(roster)]) == 2
    err = capsys.readouterr().err
    assert "nothing was changed" in err and "run this as root" in err
    assert not (tmp_path / "hub").exists() and not (tmp_path / "runtime").exists()


def test_teardown_without_yes_says_what_it_would_delete_and_deletes_nothing(capsys):
    assert main(["teardown"]) == 2
    err = capsys.readouterr().err
    assert "teardown deletes the hub's accounts with their homes" in err and "--yes" in err
