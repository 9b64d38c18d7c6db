"""Downloads and exports written the way Canvas and Moodle write them (the tests' oracle).

Each builder follows the LMS's own code, cited in ``autograder/instructor/LMS.md``:

* Canvas ``ContentZipper`` (file names, via rubyzip, which writes UTF-8 names *without* the zip's
  UTF-8 flag unless ``Zip.unicode_names`` is set, and Canvas does not set it; every entry is
  stamped with the time of the download) and ``GradebookExporter`` (the gradebook CSV);
* Moodle ``mod_assign\\downloader`` (folder and flat layouts, blind marking),
  ``assign_grading_table`` (the grading worksheet) and ``grade_export_txt`` (the gradebook CSV).
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from pathlib import Path

DOWNLOAD_TIME = (2026, 12, 1, 9, 30, 0)  # both LMSs stamp every entry with the download time


def notebook(marker: str) -> bytes:
    """A small valid notebook whose content says which version it is."""
    nb = {
        "cells": [{"cell_type": "markdown", "id": "m", "metadata": {}, "source": marker}],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(nb).encode()


class _NoUtf8Flag(zipfile.ZipInfo):
    """An entry written as rubyzip and macOS's Archive Utility do: UTF-8 bytes, no flag."""

    def _encodeFilenameFlags(self):
        return self.filename.encode("utf-8"), self.flag_bits & ~0x800


def write_zip(path: Path, files: dict[str, bytes], *, utf8_flag: bool = True) -> Path:
    """A zip with ``files``; every entry stamped :data:`DOWNLOAD_TIME`, as the LMSs do."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            info = (zipfile.ZipInfo if utf8_flag else _NoUtf8Flag)(name, DOWNLOAD_TIME)
            zf.writestr(info, data)
    return path


# --------------------------------------------------------------------------------------------
# Canvas


def canvas_entry(
    sortable_name: str,
    user_id: int | None,
    attachment_id: int,
    display_name: str,
    *,
    late: bool = False,
    anonymous_id: str | None = None,
) -> str:
    """``ContentZipper#get_filename`` + ``#add_upload_submission``."""
    users_name = None
    if anonymous_id is None:
        users_name = re.sub(r"_(\d+)_", r"\1", sortable_name)  # sanitize_user_name
        users_name = re.sub(r"^(\d+)$", r"\1", users_name).lower()
    ident = f"anon_{anonymous_id}" if anonymous_id else str(user_id)
    parts = [users_name, "LATE" if late else None, ident]
    filename = re.sub(r"[^\w]", "", "_".join(p for p in parts if p is not None))
    attachment = re.sub(r'[\x00/\\:*?"<>|]+', "_", display_name)
    return f"{filename}_{attachment_id}_{attachment}"


def canvas_gradebook(
    path: Path,
    students: list[dict],
    assignments: list[tuple[str, int, float]],
    *,
    delimiter: str = ",",
    bom: bool = True,
) -> Path:
    """``GradebookExporter#csv_data`` with SIS ids, a Points Possible row and totals.

    ``students``: dicts with ``name`` (sortable), ``id``, ``sis``, ``login``, ``section`` and
    ``scores`` (``{assignment id: cell}``). ``assignments``: (title, id, points possible).
    """
    totals = [
        "Current Points",
        "Final Points",
        "Current Score",
        "Unposted Current Score",
        "Final Score",
        "Unposted Final Score",
    ]
    header = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    header += [f"{title} ({aid})" for title, aid, _ in assignments] + totals
    rows = [header, ["    Points Possible", "", "", "", ""]]
    rows[1] += [f"{pts:.2f}" for _, _, pts in assignments] + ["(read only)"] * len(totals)
    for s in students:
        name = f'="{s["name"]}"' if s["name"].lstrip().startswith("=") else s["name"]
        row = [name, str(s["id"]), s.get("sis", ""), s.get("login", ""), s.get("section", "")]
        row += [s.get("scores", {}).get(aid, "") for _, aid, _ in assignments]
        rows.append([*row, "1.00", "1.00", "50.00", "50.00", "10.00", "10.00"])
    buf = io.StringIO(newline="")
    csv.writer(buf, delimiter=delimiter, lineterminator="\n").writerows(rows)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + buf.getvalue().encode("utf-8"))
    return path


# --------------------------------------------------------------------------------------------
# Moodle


def moodle_clean(name: str) -> str:
    """``clean_param(PARAM_FILE)``: control characters and ``& < > " ` | ' : \\ /`` removed."""
    return re.sub(r"[\x00-\x1f\x7f&<>\"`|':\\/]", "", name)


def moodle_entry(
    fullname: str, participant: int, filename: str, *, folders: bool = True, blind: bool = False
) -> str:
    """``downloader::get_student_prefix`` + ``load_submissionplugin_filelist`` (file plugin)."""
    name = "Participant" if blind else fullname
    prefix = moodle_clean(name.replace("_", " ") + "_" + str(participant))
    if folders:
        return moodle_clean(f"{prefix}_assignsubmission_file") + "/" + filename
    return moodle_clean(f"{prefix}_assignsubmission_file_{filename}")


def moodle_worksheet(path: Path, rows: list[dict], *, blind: bool = False, maximum: float = 3):
    """The grading worksheet (``assign_grading_table`` downloading): ``rows`` have
    ``participant``, ``name``, ``email``, ``status``, ``submitted``, ``grade``."""
    header = ["Identifier"]
    if not blind:
        header += ["Full name", "Email address"]
    header += [
        "Status",
        "Grade",
        "Maximum Grade",
        "Grade can be changed",
        "Last modified (submission)",
        "Last modified (grade)",
        "Feedback comments",
    ]
    out = [header]
    for r in rows:
        row = [f"Participant {r['participant']}"]
        if not blind:
            row += [r["name"], r["email"]]
        row += [
            r.get("status", "Submitted for grading"),
            r.get("grade", ""),
            f"{maximum:.2f}",
            "Yes",
            r.get("submitted", "-"),
            r.get("graded", "-"),
            r.get("feedback", ""),
        ]
        out.append(row)
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator="\n").writerows(out)
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def moodle_gradebook(path: Path, students: list[dict], items: list[str], *, kinds=("Real",)):
    """``grade_export_txt``: profile fields, ``Assignment: <item> (<kind>)``, export time."""
    header = ["First name", "Last name", "ID number", "Institution", "Department", "Email address"]
    header += [f"Assignment: {item} ({kind})" for item in items for kind in kinds]
    header.append("Last downloaded from this course")
    out = [header]
    for s in students:
        row = [s["first"], s["last"], s.get("idnumber", ""), "", "", s["email"]]
        row += [s.get("grades", {}).get((item, kind), "-") for item in items for kind in kinds]
        out.append([*row, "1764581400"])
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator="\n").writerows(out)
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def read_csv(path: Path) -> list[list[str]]:
    """Rows of a CSV file written for an LMS (BOM and separator as Canvas/Moodle allow)."""
    text = path.read_bytes().decode("utf-8-sig")
    delimiter = ";" if text.splitlines()[0].count(";") > text.splitlines()[0].count(",") else ","
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
