"""Benchmark: grade a class with `autograder grade` and with serial `nbgrader autograde`.

Builds a class of S students x every lesson present in ``solutions/`` (a mix of full solutions,
untouched stubs, half-finished notebooks and plausible wrong answers), copies it twice, grades
one copy with the parallel grader and the other with ``nbgrader autograde LESSON`` (one process
per lesson, all students, one after another), checks that every (student, lesson) score is
identical, and prints both times, then the class's most frequent mistakes as ``report`` prints
them (``--mistakes-figure PATH`` keeps its ``mistakes.png``). Not a timed test; run it by hand::

    .venv/bin/python benchmarks/bench_grade.py --students 20 --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autograder.instructor.course import Course, ensure_scripts_on_path  # noqa: E402

VARIANTS = ("solution", "stub", "half", "wrong")
MUTATIONS = [
    (" - ", " + "),
    (" + ", " - "),
    ("np.maximum(", "np.minimum("),
    (".mean(", ".sum("),
    ("axis=-1", "axis=0"),
    (" * ", " / "),
]
_SOLUTION = re.compile(r"[ \t]*### BEGIN SOLUTION\n(.*?)[ \t]*### END SOLUTION\n?", re.S)


def _src(cell: dict) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else s


def _gid(cell: dict) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _mutate(block: str) -> str:
    for old, new in MUTATIONS:
        if old in block:
            return block.replace(old, new, 1)
    return block


def submission(source: dict, released: dict, variant: str) -> dict:
    """The released notebook with its answer cells filled according to ``variant``."""
    answers = {
        _gid(c): _src(c)
        for c in source["cells"]
        if c.get("metadata", {}).get("nbgrader", {}).get("solution")
    }
    nb = json.loads(json.dumps(released))
    for i, cell in enumerate(c for c in nb["cells"] if _gid(c) in answers):
        full = answers[_gid(cell)]
        if variant == "stub" or (variant == "half" and i % 2):
            continue
        if variant == "wrong":
            text = _SOLUTION.sub(lambda m: _mutate(m.group(1)), full)
        else:
            text = _SOLUTION.sub(lambda m: m.group(1), full)
        cell["source"] = text
    return nb


def build_class(root: Path, students: int, lessons: list[str]) -> Course:
    from autograder.instructor import release

    root.mkdir(parents=True)
    (root / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        f"load_subconfig({str(REPO / 'autograder' / 'nbgrader_config.py')!r})  # noqa: F821\n"
    )
    for lesson in lessons:
        shutil.copytree(REPO / "solutions" / lesson, root / "solutions" / lesson)
    course = Course.at(root)
    release.generate(course, lessons)
    for lesson in lessons:
        source = json.loads((root / "solutions" / lesson / f"{lesson}.ipynb").read_text())
        released = json.loads((root / "lessons" / lesson / f"{lesson}.ipynb").read_text())
        for s in range(students):
            variant = VARIANTS[(s + lessons.index(lesson)) % len(VARIANTS)]
            path = root / "submitted" / f"student{s:02d}" / lesson / f"{lesson}.ipynb"
            path.parent.mkdir(parents=True)
            path.write_text(json.dumps(submission(source, released, variant), indent=1))
    return course


def scores(course: Course) -> dict[tuple[str, str], float]:
    from nbgrader.api import Gradebook

    out = {}
    with Gradebook(course.db_url) as gb:
        for assignment in gb.assignments:
            for sub in assignment.submissions:
                out[(sub.student.id, assignment.name)] = float(sub.score)
    return out


def serial_nbgrader(course: Course, lessons: list[str]) -> float:
    nbgrader = Path(sys.executable).with_name("nbgrader")
    started = time.perf_counter()
    for lesson in lessons:
        done = subprocess.run(
            [str(nbgrader), "autograde", lesson, "--force"],
            cwd=course.root,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            print(f"nbgrader autograde {lesson} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return time.perf_counter() - started


def print_mistakes(course: Course, figure: Path | None) -> None:
    """Run ``report`` on the graded class and print its mistake counts as the command does."""
    from autograder.instructor import mistakes
    from autograder.instructor.report import report

    errors = mistakes.collect(course)
    paths = report(course, errors=errors)
    print("most frequent mistakes (students who made each):")
    print("\n".join(mistakes.summary_lines(errors)))
    with open(paths["mistakes"], encoding="utf-8") as fh:
        rows = fh.read().splitlines()[1:]
    print(f"  mistakes.csv: {len(rows)} rows")
    if figure is not None:
        figure.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(paths["mistakes_figure"], figure)
        print(f"  mistakes figure: {figure}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--lessons", nargs="*", default=None, help="default: all in solutions/")
    parser.add_argument("--skip-serial", action="store_true")
    parser.add_argument(
        "--mistakes-figure", type=Path, default=None, help="copy report's mistakes.png here"
    )
    args = parser.parse_args(argv)

    ensure_scripts_on_path()
    os.environ.setdefault("MPLBACKEND", "Agg")
    lessons = args.lessons or sorted(
        d.name for d in (REPO / "solutions").iterdir() if (d / f"{d.name}.ipynb").is_file()
    )
    from autograder.instructor.grade import grade

    with tempfile.TemporaryDirectory(prefix="bench-grade-") as tmp:
        a = build_class(Path(tmp) / "parallel", args.students, lessons)
        shutil.copytree(a.root, Path(tmp) / "serial")
        b = Course.at(Path(tmp) / "serial")
        n = args.students * len(lessons)
        print(f"class: {args.students} students x {len(lessons)} lessons ({', '.join(lessons)})")
        print(f"machine: {os.cpu_count()} cores")

        print(f"load average before grade: {os.getloadavg()[0]:.2f}")
        summary = grade(a, workers=args.workers, progress=True)
        t_par = summary.seconds
        print(f"autograder grade -j {args.workers}: {t_par:.1f} s ({n / t_par:.2f} notebooks/s)")
        statuses = summary.counts()
        print("  statuses:", dict(sorted(statuses.items())))
        print_mistakes(a, args.mistakes_figure)
        if args.skip_serial:
            return 0
        print(f"load average before nbgrader: {os.getloadavg()[0]:.2f}")
        t_ser = serial_nbgrader(b, lessons)
        print(f"serial nbgrader autograde: {t_ser:.1f} s ({n / t_ser:.2f} notebooks/s)")
        sa, sb = scores(a), scores(b)
        diff = {k: (sa.get(k), sb.get(k)) for k in set(sa) | set(sb) if sa.get(k) != sb.get(k)}
        print(f"scores identical: {not diff} ({len(sa)} submissions)")
        for key, pair in sorted(diff.items())[:20]:
            print(f"  DIFFERENT {key}: grade {pair[0]} vs nbgrader {pair[1]}")
        print(f"speed-up: {t_ser / t_par:.2f}x")
        return 1 if diff else 0


if __name__ == "__main__":
    raise SystemExit(main())
