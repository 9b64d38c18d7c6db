"""Are a bad roster and bad hub settings refused with every problem named, line by line?"""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.hub import roster, settings
from deploy.hub.roster import Member, RosterError, parse
from deploy.hub.settings import SettingsError, from_dict, load, read_toml

HUB = Path(__file__).resolve().parents[2] / "deploy" / "hub"


def test_a_roster_reads_in_file_order_whatever_the_column_order():
    text = "\ufeff# class of 2027\nrole,email,username\n\ninstructor,a@x.org,ada\nstudent,,alan\n"
    assert parse(text) == [Member("ada", "instructor", 4), Member("alan", "student", 5)]


def test_the_example_roster_is_valid():
    members = roster.read(HUB / "roster.example.csv")
    assert [m.role for m in members].count("instructor") >= 1


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("Alice,student", "'Alice' is not a valid user name"),
        ("1bob,student", "'1bob' is not a valid user name"),
        ("a+b,student", "'a+b' is not a valid user name"),
        (f"{'x' * 33},student", "at most 32 characters"),
        (",student", "'' is not a valid user name"),
        ("root,student", "'root' is reserved for the system"),
        ("jovyan,student", "'jovyan' is reserved"),
        ("eve,teacher", "role 'teacher' of 'eve': write student or instructor"),
        ("eve", "role '' of 'eve'"),
    ],
)
def test_a_bad_line_is_named_with_its_number(line, problem):
    with pytest.raises(RosterError) as err:
        parse(f"username,role\nada,instructor\n{line}\n", "r.csv")
    assert len(err.value.problems) == 1, err.value.problems
    assert err.value.problems[0].startswith("line 3: ")
    assert problem in err.value.problems[0]
    assert str(err.value).startswith("r.csv:")


def test_a_duplicate_names_both_lines_and_every_problem_is_reported_at_once():
    text = "username,role\nada,instructor\nbob,student\nBad,student\nbob,student\n"
    with pytest.raises(RosterError) as err:
        parse(text)
    assert err.value.problems == [
        "line 4: 'Bad' is not a valid user name: use lower-case letters, digits, '-' and '_', "
        "start with a letter or '_', at most 32 characters",
        "line 5: 'bob' is listed twice (also line 3); keep one line per person",
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "it is empty"),
        ("# only a comment\n", "it is empty"),
        ("ada,instructor\nbob,student\n", "lacks username, role"),
        ("username,role\n", "it lists nobody"),
    ],
)
def test_an_empty_roster_or_one_without_header_is_refused(text, problem):
    with pytest.raises(RosterError, match=problem):
        parse(text)


def test_a_missing_roster_file_says_so(tmp_path):
    with pytest.raises(RosterError, match="cannot read it"):
        roster.read(tmp_path / "nope.csv")


# --------------------------------------------------------------------------------------------
# hub.toml


def _data() -> dict:
    return read_toml(settings.DEFAULT_SETTINGS)


def test_the_default_settings_load_with_their_derived_paths():
    s = load()
    assert s.course_id == "nnkit" and s.lessons[0] == "01_neurons"
    assert s.venv == Path("/opt/nnkit-hub/venv")
    assert s.state_dir == Path("/srv/nnkit-hub/state")
    assert s.jupyter_dir == Path("/srv/nnkit-hub/jupyter")
    assert str(s.proxy_bin).endswith("node_modules/.bin/configurable-http-proxy")
    assert s.groups == ("nnkit-students", "nnkit-instructors")


@pytest.mark.parametrize(
    ("section", "key", "value", "problem"),
    [
        ("course", "id", "my course", "[course] id = 'my course': use letters, digits"),
        ("course", "folder", "a/b", "[course] folder = 'a/b': a plain folder name"),
        ("course", "lessons", [], "[course] lessons: a non-empty list"),
        ("course", "lessons", ["01_neurons", "01_neurons"], "listed twice: 01_neurons"),
        ("course", "lessons", ["../x"], "'../x' is not a lesson id"),
        ("accounts", "students_group", "Students", "[accounts] students_group = 'Students'"),
        ("accounts", "instructors_group", "nnkit-students", "must differ"),
        ("paths", "runtime", "opt/hub", "[paths] runtime = 'opt/hub': an absolute path"),
        ("paths", "hub_dir", "/srv", "a folder of its own, not a system folder"),
        ("hub", "port", 70000, "[hub] port = 70000: a TCP port number"),
        ("hub", "port", "8000", "[hub] port = '8000'"),
        ("hub", "hub_port", 8000, "three different ports"),
        ("hub", "ssl_cert", "/etc/cert.pem", "ssl_cert and ssl_key go together"),
        ("hub", "colour", "red", "[hub] colour: unknown key"),
    ],
)
def test_a_bad_setting_is_named_with_its_key(section, key, value, problem):
    data = _data()
    data[section][key] = value
    with pytest.raises(SettingsError) as err:
        from_dict(data, "hub.toml")
    assert any(problem in p for p in err.value.problems), err.value.problems


def test_a_missing_section_or_key_is_named():
    data = _data()
    del data["versions"]
    del data["hub"]["port"]
    data["extra"] = {}
    with pytest.raises(SettingsError) as err:
        from_dict(data)
    assert err.value.problems == [
        "[hub] port is missing",
        "[versions] is missing (keys jupyterhub, proxy)",
        "[extra]: unknown section (known: course, accounts, paths, hub, versions)",
    ]


def test_a_file_that_is_not_toml_says_where(tmp_path):
    bad = tmp_path / "hub.toml"
    bad.write_text("[course\n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load(bad)
