"""``python -m tools.work_folder LESSONS WORK``: the student's own copies of the lessons.

``lessons/`` belongs to the course: ``git pull`` updates it. A student works in ``work/``
(gitignored), which this fills with every file of ``lessons/`` it does not have yet. A file that
is already there is never touched, whatever it holds; when the course has changed its lesson
since the copy was made, the student is told so and keeps their copy.

``make lab`` runs it before opening JupyterLab on ``work/``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

# What each copy was made from (relative path -> sha256 of the lesson file at that time).
RECORD = ".copied-from-lessons.json"


@dataclass
class Seeded:
    added: list[Path] = field(default_factory=list)  # relative to the work folder
    kept: list[Path] = field(default_factory=list)  # already there, left alone
    updated_upstream: list[Path] = field(default_factory=list)  # kept, but lessons/ changed


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _lesson_files(lessons: Path) -> list[Path]:
    """Every file under ``lessons`` (relative), without hidden files or folders such as
    ``.ipynb_checkpoints``."""
    return sorted(
        p.relative_to(lessons)
        for p in lessons.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(lessons).parts)
    )


def seed(lessons: Path, work: Path) -> Seeded:
    """Copy into ``work`` each file of ``lessons`` that ``work`` does not have; touch no other."""
    lessons, work = Path(lessons), Path(work)
    if not lessons.is_dir():
        raise ValueError(f"{lessons} is not a folder: run this from the course repository")
    if work.exists() and not work.is_dir():
        raise ValueError(f"{work} exists and is not a folder: move it away, or pass WORK=other")
    if work.resolve() == lessons.resolve() or lessons.resolve() in work.resolve().parents:
        raise ValueError(f"the work folder {work} must be outside {lessons}, which git updates")
    record_path = work / RECORD
    record = json.loads(record_path.read_text()) if record_path.is_file() else {}
    result = Seeded()
    for rel in _lesson_files(lessons):
        source, target = lessons / rel, work / rel
        if target.exists():
            result.kept.append(rel)
            copied_from = record.get(rel.as_posix())
            if copied_from is not None and copied_from != _digest(source):
                result.updated_upstream.append(rel)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        record[rel.as_posix()] = _digest(source)
        result.added.append(rel)
    if result.added:
        record_path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.work_folder", description=__doc__)
    parser.add_argument("lessons", type=Path, help="the course's lessons folder")
    parser.add_argument("work", type=Path, help="the student's work folder")
    args = parser.parse_args(argv)
    try:
        result = seed(args.lessons, args.work)
    except ValueError as exc:
        print(f"error: {exc}")
        return 2
    for rel in result.added:
        print(f"added {args.work / rel}")
    for rel in result.updated_upstream:
        print(
            f"note: the course changed {args.lessons / rel} since {args.work / rel} was copied; "
            "your copy is kept. To start from the new version, rename your copy and run "
            "`make lab` again."
        )
    print(
        f"{args.work}/: {len(result.added)} new, {len(result.kept)} of yours left as they are "
        f"(lessons/ is the course's, updated by git pull; work in {args.work}/)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
