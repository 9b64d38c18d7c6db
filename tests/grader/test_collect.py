"""collect: one folder per student, Canvas and Moodle downloads, zips; nothing dropped silently."""

from __future__ import annotations

import json
import zipfile

import pytest

from autograder.instructor.collect import collect, match_lesson
from autograder.instructor.course import Course

LESSONS = ["01_add", "02_mul"]
NB = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def _files(root, names):
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(NB)


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


def test_folders_canvas_and_moodle_are_filed_and_the_rest_listed(tiny_course, tmp_path):
    """Are all three layouts filed, and every unusable file listed with a reason?"""
    src = tmp_path / "downloads"
    _files(
        src,
        [
            "ann/01_add.ipynb",
            "ann/02_mul/02_mul.ipynb",
            "smithjohn_12345_67890_01_add.ipynb",
            "doejane_late_222_333_02_mul-1.ipynb",
            "Mary Major_4455_assignsubmission_file_/01_add.ipynb",
            "bob/notes.txt",
            "bob/scratch.ipynb",
            "loose.ipynb",
        ],
    )
    result = collect(Course.at(tiny_course), src)
    filed = {(s, lesson) for s, lesson, _ in result.filed}
    assert filed == {
        ("ann", "01_add"),
        ("ann", "02_mul"),
        ("smithjohn", "01_add"),
        ("doejane", "02_mul"),
        ("mary_major", "01_add"),
    }
    unmatched = {str(p) for p, _ in result.unmatched}
    assert unmatched == {"bob/notes.txt", "bob/scratch.ipynb", "loose.ipynb"}
    target = tiny_course / "submitted/mary_major/01_add/01_add.ipynb"
    assert target.read_text() == NB
    assert (target.parent / "timestamp.txt").read_text().endswith("UTC")


def test_zip_with_two_files_for_one_lesson_keeps_the_newest_and_lists_the_other(
    tiny_course, tmp_path
):
    archive = tmp_path / "subs.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(zipfile.ZipInfo("ann/01_add.ipynb", (2024, 1, 1, 10, 0, 0)), NB)
        zf.writestr(zipfile.ZipInfo("ann/01_add-1.ipynb", (2024, 1, 2, 10, 0, 0)), NB + " ")
        zf.writestr(zipfile.ZipInfo("../evil/01_add.ipynb", (2024, 1, 2, 10, 0, 0)), NB)
    result = collect(Course.at(tiny_course), archive)
    assert [(s, lesson) for s, lesson, _ in result.filed] == [("ann", "01_add")]
    assert (tiny_course / "submitted/ann/01_add/01_add.ipynb").read_text() == NB + " "
    assert [str(p) for p, _ in result.superseded] == ["ann/01_add.ipynb"]
    assert not (tiny_course.parent / "evil").exists()


def test_bad_source_is_a_clear_error(tiny_course, tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        collect(Course.at(tiny_course), tmp_path / "nope")
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(ValueError, match="neither a folder nor a zip"):
        collect(Course.at(tiny_course), tmp_path / "f.txt")
