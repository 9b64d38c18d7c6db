"""The roster: students by stable LMS ids from the LMS's own exports; conflicts named."""

from __future__ import annotations

import pytest
from lms_fixtures import (
    canvas_gradebook,
    moodle_entry,
    moodle_gradebook,
    moodle_worksheet,
    notebook,
    write_zip,
)

from autograder.instructor.collect import CollectError, collect
from autograder.instructor.course import Course
from autograder.instructor.roster import Roster


def test_canvas_export_gives_user_ids_and_display_names(tiny_course, tmp_path):
    export = canvas_gradebook(
        tmp_path / "g.csv",
        [
            {"name": "O'Brien, Seán", "id": 101, "login": "sob", "section": "A"},
            {"name": "Smith, John", "id": 104},
            {"name": "Smith, John", "id": 105},
        ],
        [("01 add", 9001, 3)],
        delimiter=";",
        bom=False,
    )
    course = Course.at(tiny_course)
    roster = Roster.load(course)
    assert "3 students (3 new)" in roster.add_file(export)
    roster.save(course)
    again = Roster.load(course)
    assert sorted(again.students) == ["101", "104", "105"]
    assert again.students["101"].name == "O'Brien, Seán"
    assert again.students["101"].sis_login == "sob"
    assert again.canvas_ids() == {"101", "104", "105"}


def test_two_canvas_rows_with_one_id_are_an_error_naming_both(tiny_course, tmp_path):
    export = canvas_gradebook(
        tmp_path / "g.csv",
        [{"name": "Doe, Jane", "id": 7}, {"name": "Roe, Rick", "id": 7}],
        [("01 add", 9001, 3)],
    )
    with pytest.raises(ValueError, match=r"lines 3 \(Doe, Jane\) and 4 \(Roe, Rick\)"):
        Roster().add_file(export)


def test_worksheet_maps_participants_and_refuses_two_for_one_student(tmp_path):
    rows = [
        {"participant": 1, "name": "Jane Doe", "email": "Jane@Uni.example"},
        {"participant": 2, "name": "Jane Doe", "email": "jane2@uni.example"},
    ]
    roster = Roster()
    roster.add_file(moodle_worksheet(tmp_path / "w.csv", rows))
    assert roster.participants["1"].student == "jane@uni.example"
    assert roster.participants["2"].student == "jane2@uni.example"
    rows.append({"participant": 3, "name": "Jane D.", "email": "jane@uni.example"})
    with pytest.raises(ValueError, match=r"Participant 1 .* and Participant 3"):
        Roster().add_file(moodle_worksheet(tmp_path / "w2.csv", rows))


def test_moodle_gradebook_and_worksheet_agree_on_one_student(tmp_path):
    roster = Roster()
    roster.add_file(
        moodle_gradebook(
            tmp_path / "gb.csv",
            [{"first": "José", "last": "Núñez", "email": "jose@uni.example"}],
            ["01_add"],
        )
    )
    sheet = [{"participant": 9, "name": "José Núñez", "email": "jose@uni.example"}]
    roster.add_file(moodle_worksheet(tmp_path / "w.csv", sheet))
    assert list(roster.students) == ["jose@uni.example"]
    assert roster.participants["9"].student == "jose@uni.example"


def test_a_worksheet_of_another_site_is_caught_by_the_names(tiny_course, tmp_path):
    sheet = moodle_worksheet(
        tmp_path / "w.csv", [{"participant": 5, "name": "Ann Lee", "email": "ann@x.example"}]
    )
    archive = write_zip(
        tmp_path / "01_add.zip", {moodle_entry("Bob Stone", 5, "01_add.ipynb"): notebook("b")}
    )
    with pytest.raises(CollectError, match="'Bob Stone' but the worksheet"):
        collect(Course.at(tiny_course), archive, rosters=[sheet])
    assert not (tiny_course / "submitted").exists()


def test_an_unknown_file_names_its_columns_and_the_exports_to_use(tmp_path):
    (tmp_path / "x.csv").write_text("name,score\nann,3\n")
    with pytest.raises(ValueError, match=r"\['name', 'score'\].*Canvas gradebook export"):
        Roster().add_file(tmp_path / "x.csv")


def test_roster_command_adds_an_export_and_reports_the_class_size(tiny_course, tmp_path, capsys):
    from autograder import cli

    export = canvas_gradebook(
        tmp_path / "g.csv",
        [{"name": "Doe, Jane", "id": 7}, {"name": "Roe, Rick", "id": 8}],
        [("x", 1, 3)],
    )
    assert cli.main(["roster", str(export), "--course", str(tiny_course)]) == 0
    out = capsys.readouterr().out
    assert "Canvas gradebook export g.csv: 2 students (2 new)" in out
    assert "2 students in" in out and (tiny_course / "collected/roster.json").is_file()
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    assert cli.main(["roster", str(tmp_path / "bad.csv"), "--course", str(tiny_course)]) == 2
    assert "is not a roster" in capsys.readouterr().err
