"""collect: real Canvas and Moodle downloads (as their code writes them) and plain folders;
every student filed once, as themselves, with their final version, or a stop that says why."""

from __future__ import annotations

import csv
import hashlib
import json
import unicodedata
import zipfile
from datetime import datetime, timezone

import pytest
from lms_fixtures import (
    canvas_entry,
    canvas_gradebook,
    moodle_entry,
    moodle_worksheet,
    notebook,
    write_zip,
)

from autograder.instructor.collect import CollectError, collect
from autograder.instructor.course import Course
from autograder.instructor.names import match_lesson

LESSONS = ["01_add", "02_mul"]


def _submitted(course, student, lesson):
    return (course / "submitted" / student / lesson / f"{lesson}.ipynb").read_bytes()


def _manifest(result):
    with open(result.manifest, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _index(course):
    return json.loads((course / "collected" / "submissions.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("filename", "lesson"),
    [
        ("01_add.ipynb", "01_add"),
        ("01_add-1.ipynb", "01_add"),
        ("01-add (2).ipynb", "01_add"),
        ("02_mul_final.ipynb", "02_mul"),
        ("02.ipynb", "02_mul"),
        ("homework.ipynb", None),
    ],
)
def test_lesson_is_found_in_common_file_names(filename, lesson):
    assert match_lesson(filename, LESSONS) == lesson


# --------------------------------------------------------------------------------------------
# Canvas


CLASS = [  # sortable name, Canvas user id
    ("O'Brien, Seán", 101),
    ("Ngô, Thị Hương", 102),
    ('Smith, John "Jack"', 103),
    ("Smith, John", 104),  # the same name as...
    ("Smith, John", 105),  # ... this other student
    ("=Eve, Formula", 106),
]


def _canvas_roster(tmp_path):
    students = [{"name": n, "id": i, "login": f"u{i}", "section": "A"} for n, i in CLASS]
    students.append({"name": "Zed, Zoe", "id": 107, "login": "u107", "section": "B"})
    return canvas_gradebook(tmp_path / "grades.csv", students, [("Lesson 01 add", 9001, 3)])


def test_canvas_names_with_accents_quotes_and_twins_are_each_their_own_student(
    tiny_course, tmp_path
):
    """Does every Canvas student land under their own user id, whatever their name, with
    Canvas's LATE flag kept and their name from the gradebook export for display?"""
    files = {
        canvas_entry(name, uid, 5000 + uid, "01_add.ipynb", late=(uid == 102)): notebook(name)
        for name, uid in CLASS
    }
    archive = write_zip(tmp_path / "nn-01_add_submissions.zip", files, utf8_flag=False)
    result = collect(Course.at(tiny_course), archive, rosters=[_canvas_roster(tmp_path)])
    assert result.assignments == {"nn-01_add_submissions.zip": "01_add"}
    assert sorted((f.student, f.action) for f in result.filed) == [
        (str(uid), "filed") for uid in range(101, 107)
    ]
    for name, uid in CLASS:
        assert _submitted(tiny_course, str(uid), "01_add") == notebook(name)
    assert not result.unmatched and not result.superseded and not result.not_filed
    index = _index(tiny_course)
    assert index["102/01_add"]["late"] is True and index["101/01_add"]["late"] is False
    assert index["101/01_add"]["name"] == "O'Brien, Seán"
    assert index["106/01_add"]["name"] == "=Eve, Formula"
    rows = {r["student"]: r for r in _manifest(result)}
    assert {r["entry"] for r in rows.values()} == set(files)  # as Canvas wrote them, not cp437
    assert rows["102"]["late"] == "True" and rows["102"]["lms_id"] == "102"
    assert rows["104"]["attachment_id"] == "5104"
    assert rows["104"]["sha256"] == hashlib.sha256(notebook("Smith, John")).hexdigest()
    # the submission time is the student's, not the zip's: Canvas's download names give none
    assert not (tiny_course / "submitted/101/01_add/timestamp.txt").exists()


def test_canvas_anonymous_download_files_each_anonymous_id(tiny_course, tmp_path):
    files = {
        canvas_entry("", None, 7001, "01_add.ipynb", anonymous_id="Ab3De"): notebook("a"),
        canvas_entry("", None, 7002, "01_add.ipynb", anonymous_id="Xy9Zq", late=True): notebook(
            "b"
        ),
    }
    archive = write_zip(tmp_path / "01_add.zip", files)
    result = collect(Course.at(tiny_course), archive)
    assert sorted(f.student for f in result.filed) == ["anon_Ab3De", "anon_Xy9Zq"]
    assert _index(tiny_course)["anon_Xy9Zq/01_add"]["late"] is True


def test_canvas_resubmission_is_ordered_by_attachment_id_not_by_zip_time(tiny_course, tmp_path):
    """Canvas stamps every entry with the download time; a blank first attempt must not win."""
    first = canvas_entry("Doe, Jane", 201, 300, "01_add.ipynb")
    final = canvas_entry("Doe, Jane", 201, 412, "01_add-1.ipynb")
    archive = tmp_path / "01_add.zip"
    with zipfile.ZipFile(archive, "w") as zf:  # the blank attempt even carries the later time
        zf.writestr(zipfile.ZipInfo(final, (2026, 1, 1, 0, 0, 0)), notebook("final"))
        zf.writestr(zipfile.ZipInfo(first, (2026, 6, 1, 0, 0, 0)), notebook("blank"))
    result = collect(Course.at(tiny_course), archive)
    assert _submitted(tiny_course, "201", "01_add") == notebook("final")
    assert [p for p, _ in result.superseded] == [first]
    assert "attachment" in result.superseded[0][1]
    actions = {r["entry"]: r["action"] for r in _manifest(result)}
    assert actions == {first: "superseded", final: "filed"}


def test_an_older_canvas_download_never_replaces_a_newer_collected_version(tiny_course, tmp_path):
    new = write_zip(
        tmp_path / "new-01_add.zip",
        {canvas_entry("Doe, Jane", 201, 412, "01_add-1.ipynb"): notebook("final")},
    )
    old = write_zip(
        tmp_path / "old-01_add.zip",
        {canvas_entry("Doe, Jane", 201, 300, "01_add.ipynb"): notebook("blank")},
    )
    course = Course.at(tiny_course)
    collect(course, new)
    result = collect(course, old)
    assert _submitted(tiny_course, "201", "01_add") == notebook("final")
    assert result.not_filed and "older" in result.not_filed[0][1]
    result = collect(course, old, force=True)
    assert [f.action for f in result.filed] == ["replaced"]
    assert _submitted(tiny_course, "201", "01_add") == notebook("blank")
    kept = list((tiny_course / "collected/replaced").rglob("01_add.ipynb"))
    assert [p.read_bytes() for p in kept] == [notebook("final")]


# --------------------------------------------------------------------------------------------
# Moodle

MOODLE = [  # full name, email, participant id in the assignment of 01_add
    ("Seán O'Brien", "sean@uni.example", 7701),
    ("Jane Doe", "jane.doe@uni.example", 7702),
    ("Jane Doe", "jane.doe2@uni.example", 7703),  # the same name, another student
    ("José Núñez", "jose@uni.example", 7704),
    ("Ann_Marie Lee", "ann@uni.example", 7705),  # Moodle turns "_" into a space
]


def _worksheet(tmp_path, name="worksheet-01_add.csv", **kw):
    rows = [
        {
            "participant": pid,
            "name": n,
            "email": e,
            "submitted": "Monday, 1 December 2025, 10:15 AM",
            "status": "Submitted for grading - 2 hours 5 mins late"
            if pid == 7702
            else "Submitted for grading",
        }
        for n, e, pid in MOODLE
    ]
    return moodle_worksheet(tmp_path / name, rows, **kw)


@pytest.mark.parametrize("folders", [True, False], ids=["folders", "flat"])
def test_moodle_download_maps_participants_to_students_through_the_worksheet(
    tiny_course, tmp_path, folders
):
    files = {
        moodle_entry(n, pid, "01_add.ipynb", folders=folders): notebook(e) for n, e, pid in MOODLE
    }
    # Jane Doe (7702) uploaded twice: Moodle renamed the second one "01_add (1).ipynb"
    files[moodle_entry("Jane Doe", 7702, "01_add (1).ipynb", folders=folders)] = notebook("v2")
    archive = write_zip(tmp_path / "NN101-01_add-42.zip", files)
    result = collect(Course.at(tiny_course), archive, rosters=[_worksheet(tmp_path)])
    filed = {f.student for f in result.filed}
    assert filed == {e for _, e, _ in MOODLE}
    for _, email, pid in MOODLE:
        expected = notebook("v2") if pid == 7702 else notebook(email)
        assert _submitted(tiny_course, email, "01_add") == expected
    assert len(result.superseded) == 1 and "(1)" not in result.superseded[0][0]
    index = _index(tiny_course)
    assert index["jane.doe@uni.example/01_add"]["late"] is True
    assert index["jane.doe2@uni.example/01_add"]["late"] is False
    stamp = tiny_course / "submitted/jose@uni.example/01_add/timestamp.txt"
    # the student's time (Moodle shows it in the local time of the download), not the zip's
    local = datetime(2025, 12, 1, 10, 15).astimezone()
    assert stamp.read_text() == local.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def test_moodle_blind_download_keeps_participants_apart(tiny_course, tmp_path):
    """Blind marking names everyone 'Participant': each must still be a student of their own."""
    files = {
        moodle_entry("", pid, "01_add.ipynb", blind=True): notebook(str(pid)) for pid in (1, 2)
    }
    archive = write_zip(tmp_path / "01_add.zip", files)
    rows = [{"participant": pid, "name": "", "email": ""} for pid in (1, 2, 3)]
    sheet = moodle_worksheet(tmp_path / "blind.csv", rows, blind=True)
    result = collect(Course.at(tiny_course), archive, rosters=[sheet])
    assert sorted(f.student for f in result.filed) == ["participant_1", "participant_2"]
    assert _submitted(tiny_course, "participant_2", "01_add") == notebook("2")


def test_moodle_download_without_its_worksheet_stops_and_says_which_file_to_pass(
    tiny_course, tmp_path
):
    archive = write_zip(
        tmp_path / "01_add.zip", {moodle_entry("Jane Doe", 7702, "01_add.ipynb"): notebook("x")}
    )
    with pytest.raises(CollectError, match="grading worksheet") as err:
        collect(Course.at(tiny_course), archive)
    assert "7702" in str(err.value)
    assert not (tiny_course / "submitted").exists()


# --------------------------------------------------------------------------------------------
# Folders, wrappers, Unicode, conflicts


def test_a_wrapping_folder_is_not_a_student(tiny_course, tmp_path):
    files = {
        "NN101 downloads/ann/01_add.ipynb": notebook("ann"),
        "NN101 downloads/bob/01_add.ipynb": notebook("bob"),
        "NN101 downloads/bob/02_mul/02_mul.ipynb": notebook("bob2"),
    }
    result = collect(Course.at(tiny_course), write_zip(tmp_path / "all.zip", files))
    assert result.wrappers == ["NN101 downloads"]
    assert sorted((f.student, f.lesson) for f in result.filed) == [
        ("ann", "01_add"),
        ("bob", "01_add"),
        ("bob", "02_mul"),
    ]
    assert not result.superseded


def test_several_canvas_downloads_extracted_into_one_parent_are_all_filed(tiny_course, tmp_path):
    src = tmp_path / "parent"
    for lesson, aid in (("01_add", 10), ("02_mul", 20)):
        folder = src / f"nn101-{lesson}_submissions"
        folder.mkdir(parents=True)
        for name, uid in CLASS[:2]:
            (folder / canvas_entry(name, uid, aid + uid, f"{lesson}.ipynb")).write_bytes(
                notebook(lesson + name)
            )
    result = collect(Course.at(tiny_course), src, rosters=[_canvas_roster(tmp_path)])
    assert sorted((f.student, f.lesson) for f in result.filed) == [
        ("101", "01_add"),
        ("101", "02_mul"),
        ("102", "01_add"),
        ("102", "02_mul"),
    ]


def test_a_macos_zip_with_decomposed_accents_is_the_same_student(tiny_course, tmp_path):
    """macOS writes NFD names and no UTF-8 flag: José must stay one student, not become two."""
    course = Course.at(tiny_course)
    first = write_zip(tmp_path / "a.zip", {"José/01_add.ipynb": notebook("v1")})
    collect(course, first)
    nfd = unicodedata.normalize("NFD", "José")
    assert nfd != "José"
    second = write_zip(tmp_path / "b.zip", {f"{nfd}/01_add.ipynb": notebook("v2")}, utf8_flag=False)
    result = collect(course, second)
    assert [(f.student, f.action) for f in result.filed] == [("josé", "replaced")]
    assert [p.name for p in (tiny_course / "submitted").iterdir()] == ["josé"]
    assert _submitted(tiny_course, "josé", "01_add") == notebook("v2")
    assert "replaced is in" in result.filed[0].note


def test_two_folders_that_map_to_one_student_id_stop_the_run_and_name_both(tiny_course, tmp_path):
    files = {"Ann/01_add.ipynb": notebook("a"), "ann/01_add.ipynb": notebook("b")}
    with pytest.raises(CollectError) as err:
        collect(Course.at(tiny_course), write_zip(tmp_path / "x.zip", files))
    assert "'folder Ann'" in str(err.value) and "'folder ann'" in str(err.value)
    assert not (tiny_course / "submitted").exists()


def test_two_versions_nothing_orders_stop_the_run_until_one_is_kept(tiny_course, tmp_path):
    """As nbgrader's zip_collect: no order, no guess (file times are the download's)."""
    files = {"ann/01_add.ipynb": notebook("a"), "ann/01_add_final.ipynb": notebook("b")}
    archive = write_zip(tmp_path / "x.zip", files)
    with pytest.raises(CollectError, match="nothing orders"):
        collect(Course.at(tiny_course), archive)
    assert not (tiny_course / "submitted").exists()
    result = collect(Course.at(tiny_course), archive, keep=["ann/01_add_final.ipynb"])
    assert _submitted(tiny_course, "ann", "01_add") == notebook("b")
    assert [p for p, _ in result.superseded] == ["ann/01_add.ipynb"]


def test_identical_copies_are_one_submission(tiny_course, tmp_path):
    files = {"ann/01_add.ipynb": notebook("a"), "ann/01_add (1).ipynb": notebook("a")}
    result = collect(Course.at(tiny_course), write_zip(tmp_path / "x.zip", files))
    assert [(f.student, f.action) for f in result.filed] == [("ann", "filed")]


# --------------------------------------------------------------------------------------------
# The wrong assignment


def test_a_notebook_uploaded_to_another_lessons_assignment_never_replaces_real_work(
    tiny_course, tmp_path
):
    course = Course.at(tiny_course)
    real = write_zip(
        tmp_path / "nn-02_mul_submissions.zip",
        {canvas_entry("Doe, Jane", 201, 100, "02_mul.ipynb"): notebook("real work")},
    )
    collect(course, real)
    stray = write_zip(
        tmp_path / "nn-01_add_submissions.zip",
        {
            canvas_entry("Doe, Jane", 201, 200, "02_mul.ipynb"): notebook("blank stub"),
            canvas_entry("Roe, Rick", 202, 201, "02_mul.ipynb"): notebook("rick's 02"),
        },
    )
    result = collect(course, stray)
    assert _submitted(tiny_course, "201", "02_mul") == notebook("real work")
    assert [p for p, _ in result.not_filed] == [canvas_entry("Doe, Jane", 201, 200, "02_mul.ipynb")]
    why = result.not_filed[0][1]
    assert "01_add assignment" in why and "--force" in why
    # Rick had no 02_mul work: his is filed, and the report of the run says where it came from
    assert [(f.student, f.lesson, f.action) for f in result.filed] == [("202", "02_mul", "filed")]
    assert "uploaded to the 01_add assignment" in result.filed[0].note
    actions = {r["student"]: r["action"] for r in _manifest(result)}
    assert actions == {"201": "not filed", "202": "filed"}
    result = collect(course, stray, force=True)
    assert _submitted(tiny_course, "201", "02_mul") == notebook("blank stub")


def test_unsafe_or_unusable_input_is_a_clear_error(tiny_course, tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        collect(Course.at(tiny_course), tmp_path / "nope")
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(ValueError, match="neither a folder nor a zip"):
        collect(Course.at(tiny_course), tmp_path / "f.txt")
    evil = write_zip(tmp_path / "evil.zip", {"../evil/01_add.ipynb": notebook("x")})
    with pytest.raises(ValueError, match="outside"):
        collect(Course.at(tiny_course), evil)
    assert not (tiny_course.parent / "evil").exists()


def test_files_that_are_not_submissions_are_listed_never_dropped(tiny_course, tmp_path):
    files = {
        "ann/01_add.ipynb": notebook("a"),
        "ann/notes.txt": b"x",
        "loose.ipynb": notebook("l"),
        "__MACOSX/ann/._01_add.ipynb": b"junk",
    }
    result = collect(Course.at(tiny_course), write_zip(tmp_path / "x.zip", files))
    assert sorted(p for p, _ in result.unmatched) == ["ann/notes.txt", "loose.ipynb"]
    assert [(f.student, f.lesson) for f in result.filed] == [("ann", "01_add")]


def test_an_anonymous_id_seen_in_another_assignment_is_not_merged(tiny_course, tmp_path):
    """Canvas keeps anon_ ids per assignment: the same id in another assignment may be
    another student, so it is not filed under the first one without --force."""
    course = Course.at(tiny_course)
    one = canvas_entry("", None, 7001, "01_add.ipynb", anonymous_id="Ab3De")
    collect(course, write_zip(tmp_path / "01_add.zip", {one: notebook("first student")}))
    two = canvas_entry("", None, 8001, "02_mul.ipynb", anonymous_id="Ab3De")
    result = collect(course, write_zip(tmp_path / "02_mul.zip", {two: notebook("someone")}))
    assert [p for p, _ in result.not_filed] == [two]
    assert "one assignment only" in result.not_filed[0][1]
    assert not (tiny_course / "submitted/anon_Ab3De/02_mul").exists()


def test_a_canvas_name_ending_in_digits_is_read_with_the_rosters_ids(tiny_course, tmp_path):
    from autograder.instructor.lms_canvas import parse_name

    name = canvas_entry("Smith_2, Jo", 104, 5003, "01_add.ipynb")
    assert name == "smith_2jo_104_5003_01_add.ipynb"  # Canvas squeezes only _<digits>_
    tricky = "smith_2_104_5003_01_add.ipynb"  # a sortable name "smith_2" (no comma part)
    assert parse_name(tricky, frozenset({"104"})).user == "104"
    assert parse_name(tricky, frozenset({"104"})).filename == "01_add.ipynb"
    roster = _canvas_roster(tmp_path)
    archive = write_zip(
        tmp_path / "01_add.zip", {canvas_entry("New, Nina", 999, 1, "01_add.ipynb"): b"{}"}
    )
    result = collect(Course.at(tiny_course), archive, rosters=[roster])
    assert [f.student for f in result.filed] == ["999"]
    assert "not in the roster" in result.filed[0].note


def test_collecting_the_same_download_again_changes_nothing(tiny_course, tmp_path):
    files = {
        canvas_entry(name, uid, 5000 + uid, "01_add.ipynb"): notebook(name) for name, uid in CLASS
    }
    archive = write_zip(tmp_path / "nn-01_add_submissions.zip", files)
    course = Course.at(tiny_course)
    collect(course, archive)
    result = collect(course, archive)
    assert {f.action for f in result.filed} == {"unchanged"}
    assert not (tiny_course / "collected/replaced").exists()


def test_lessons_option_never_files_another_lessons_notebook_as_the_assignment(
    tiny_course, tmp_path
):
    """--lessons 01_add on the 01_add download: a 02_mul notebook in it is listed, not taken
    for 01_add because 02_mul is not being collected."""
    files = {
        canvas_entry("Doe, Jane", 201, 1, "01_add.ipynb"): notebook("a"),
        canvas_entry("Roe, Rick", 202, 2, "02_mul.ipynb"): notebook("m"),
    }
    archive = write_zip(tmp_path / "nn-01_add_submissions.zip", files)
    result = collect(Course.at(tiny_course), archive, ["01_add"])
    assert [(f.student, f.lesson) for f in result.filed] == [("201", "01_add")]
    assert [p for p, _ in result.unmatched] == [canvas_entry("Roe, Rick", 202, 2, "02_mul.ipynb")]
    assert "not among --lessons" in result.unmatched[0][1]


def test_nbgraders_own_timestamp_beside_a_folder_submission_is_the_submission_time(
    tiny_course, tmp_path
):
    files = {
        "ann/01_add/01_add.ipynb": notebook("a"),
        "ann/01_add/timestamp.txt": b"2026-11-30 12:00:00.000000 UTC",
    }
    result = collect(Course.at(tiny_course), write_zip(tmp_path / "x.zip", files))
    stamp = tiny_course / "submitted/ann/01_add/timestamp.txt"
    assert stamp.read_text() == "2026-11-30 12:00:00.000000 UTC"
    assert not result.unmatched
    assert {r["entry"]: r["action"] for r in _manifest(result)}[
        "ann/01_add/timestamp.txt"
    ] == "used"
