"""The instructor command line: ``python -m autograder STEP ...`` (console script ``nnkit-grade``).

    release   regenerate lessons/ from solutions/ and verify nothing secret leaked
    collect   file a folder or zip of submissions into submitted/<student>/<lesson>/
    grade     autograde every changed submission in parallel, with limits and statuses
    report    grades.csv, summary.html and pass_rates.png in reports/
    feedback  one HTML page per student and lesson, without hidden tests
    check     (students) run a saved notebook in a fresh kernel as grading will

Each command is a thin wrapper over one module of :mod:`autograder.instructor`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _course(args):
    from autograder.instructor.course import Course, ensure_scripts_on_path

    ensure_scripts_on_path()
    return Course.at(args.course)


def cmd_release(args) -> int:
    from autograder.instructor.release import release

    leaks = release(_course(args), args.lessons or None)
    for leak in leaks:
        print(f"LEAK {leak}")
    print(
        "release verified: no solution, hidden test or output reached lessons/"
        if not leaks
        else f"{len(leaks)} leaks found"
    )
    return 1 if leaks else 0


def cmd_collect(args) -> int:
    from autograder.instructor.collect import collect

    result = collect(_course(args), Path(args.source), args.lessons or None)
    for student, lesson, _ in result.filed:
        print(f"filed {student}/{lesson}")
    for path, why in result.superseded:
        print(f"NOT USED {path}: {why}")
    for path, why in result.unmatched:
        print(f"UNMATCHED {path}: {why}")
    print(
        f"{len(result.filed)} filed, {len(result.superseded)} superseded, "
        f"{len(result.unmatched)} unmatched"
    )
    return 1 if result.unmatched else 0


def cmd_grade(args) -> int:
    from autograder.instructor.grade import grade

    summary = grade(
        _course(args),
        lessons=args.lessons or None,
        students=args.student or None,
        workers=args.workers,
        timeout=args.timeout,
        memory_mb=args.memory,
        force=args.force,
        progress=not args.quiet,
    )
    counts = summary.counts()
    print(
        f"graded {len(summary.graded)} submissions in {summary.seconds:.1f} s "
        f"({len(summary.skipped)} unchanged, skipped)"
    )
    for status, n in sorted(counts.items()):
        print(f"  {status}: {n}")
    return 0


def cmd_report(args) -> int:
    from autograder.instructor.report import report

    for kind, path in report(_course(args), args.out).items():
        print(f"{kind}: {path}")
    return 0


def cmd_feedback(args) -> int:
    from autograder.instructor.feedback import feedback

    pages = feedback(_course(args), args.lessons or None, args.student or None)
    print(f"wrote {len(pages)} feedback pages")
    return 0


def cmd_check(args) -> int:
    from autograder.instructor.student_check import main as check_main

    return check_main(Path(args.notebook), timeout=args.timeout)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m autograder",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def step(name, fn, help_text):
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name != "check":
            p.add_argument("--course", default=".", help="course root (default: current folder)")
        p.set_defaults(func=fn)
        return p

    p = step("release", cmd_release, "regenerate lessons/ and verify no secret leaked")
    p.add_argument("lessons", nargs="*", help="lesson ids (default: all)")

    p = step("collect", cmd_collect, "file submissions from a folder or zip")
    p.add_argument("source", help="folder (one per student, or an LMS download) or .zip")
    p.add_argument("--lessons", nargs="*", help="lesson ids to match (default: all)")

    p = step("grade", cmd_grade, "autograde changed submissions in parallel")
    p.add_argument("lessons", nargs="*", help="lesson ids (default: all in the gradebook)")
    p.add_argument("--student", action="append", help="only this student (repeatable)")
    p.add_argument(
        "--workers",
        "-j",
        type=int,
        default=None,
        help=f"worker processes (default: cores = {os.cpu_count()})",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        help="wall-clock limit per submission, seconds (default 120)",
    )
    p.add_argument(
        "--memory",
        type=int,
        default=2048,
        help="memory limit per submission's kernel, MiB (default 2048; 0 = none)",
    )
    p.add_argument(
        "--force", "--regrade", action="store_true", help="re-grade unchanged submissions too"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = step("report", cmd_report, "CSV, HTML summary and pass-rate figure")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: reports/)")

    p = step("feedback", cmd_feedback, "HTML feedback per student and lesson")
    p.add_argument("lessons", nargs="*", help="lesson ids (default: all)")
    p.add_argument("--student", action="append", help="only this student (repeatable)")

    p = step("check", cmd_check, "run your saved notebook in a fresh kernel, as grading will")
    p.add_argument("notebook", help="path to your .ipynb")
    p.add_argument("--timeout", type=int, default=60, help="per-cell limit, seconds")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
