"""What ``collect`` remembers, in ``collected/`` next to the course data (kept out of git).

* ``manifest-<UTC time>.csv``: one per run, one row per file of the download: where it came
  from, the LMS's ids, the late flag, its checksum, and whether it was kept and why;
* ``submissions.json``: for every filed ``student/lesson``, the record of the file filed last
  (source, LMS ids, late flag, the student's submission time, checksum);
* ``replaced/<run>/<student>/<lesson>/``: every notebook a run replaced, so nothing is lost;
* ``roster.json``: the roster (:mod:`.roster`).
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from .course import Course

MANIFEST_COLUMNS = [
    "source",
    "entry",
    "lms",
    "lms_id",
    "attachment_id",
    "name",
    "student",
    "lesson",
    "assignment",
    "late",
    "submitted_at",
    "sha256",
    "action",
    "reason",
]


def collected_dir(course: Course) -> Path:
    return course.root / "collected"


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` to ``path`` atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, sort_keys=True, ensure_ascii=False)
    os.replace(tmp, path)


def read_json(path: Path, default: Any) -> Any:
    if not path.is_file():
        return default
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ValueError(
            f"{path} is damaged ({exc}); restore it from a backup or delete it "
            "(collect then forgets what it filed before)"
        ) from None


class SubmissionIndex:
    """The record of the last file filed for every ``student/lesson``."""

    def __init__(self, course: Course):
        self.path = collected_dir(course) / "submissions.json"
        self.data: dict[str, dict[str, Any]] = read_json(self.path, {})

    def get(self, student: str, lesson: str) -> dict[str, Any] | None:
        return self.data.get(f"{student}/{lesson}")

    def put(self, record: dict[str, Any]) -> None:
        self.data[f"{record['student']}/{record['lesson']}"] = record

    def save(self) -> None:
        write_json(self.path, self.data)


def write_manifest(course: Course, run: str, rows: list[dict[str, Any]]) -> Path:
    """``collected/manifest-<run>.csv`` with :data:`MANIFEST_COLUMNS`."""
    path = collected_dir(course) / f"manifest-{run}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=MANIFEST_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if row.get(k) is None else row.get(k) for k in MANIFEST_COLUMNS})
    return path
