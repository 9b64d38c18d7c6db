"""The instructor command line: ``python -m autograder STEP ...`` (console script ``nnkit-grade``).

    release   regenerate lessons/ from solutions/ and verify nothing secret leaked
    collect   file a folder or zip of submissions into submitted/<student>/<lesson>/
    roster    add the LMS's gradebook export or grading worksheet to the class roster
    grade     autograde every changed submission in parallel, with limits and statuses
    report    grades.csv, mistakes.csv, summary.html and their figures in reports/
    lms-grades  the Canvas/Moodle grade import file, from the LMS's export and grades.csv
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
    from autograder.instructor.collect import CollectError, collect

    try:
        result = collect(
            _course(args),
            Path(args.source),
            args.lessons or None,
            assignment=args.lesson,
            rosters=[Path(p) for p in args.roster or []],
            keep=args.keep or [],
            force=args.force,
        )
    except CollectError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for line in result.roster:
        print(f"roster: {line}")
    for wrapper in result.wrappers:
        print(f"wrapping folder {wrapper!r}: looked inside it")
    for folder, lesson in result.assignments.items():
        print(f"download {folder!r}: the {lesson} assignment")
    for f in result.filed:
        note = f" ({f.note})" if f.note else ""
        print(f"{f.action} {f.student}/{f.lesson} <- {f.source}{note}")
    for path, why in result.not_filed:
        print(f"NOT FILED {path}: {why}")
    for path, why in result.superseded:
        print(f"NOT USED {path}: {why}")
    for path, why in result.unmatched:
        print(f"UNMATCHED {path}: {why}")
    counts = {a: sum(f.action == a for f in result.filed) for a in ("filed", "replaced")}
    print(
        f"{counts['filed']} filed, {counts['replaced']} replaced, "
        f"{len(result.filed) - sum(counts.values())} unchanged, {len(result.not_filed)} not "
        f"filed, {len(result.superseded)} superseded, {len(result.unmatched)} unmatched; "
        f"manifest: {result.manifest}"
    )
    return 1 if result.unmatched or result.not_filed else 0


def cmd_roster(args) -> int:
    from autograder.instructor.roster import Roster

    course = _course(args)
    roster = Roster.load(course)
    for path in args.files:
        print(roster.add_file(Path(path)))
    path = roster.save(course)
    print(f"{len(roster.students)} students in {path}")
    return 0


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
        accept_names=args.accept_names,
    )
    counts = summary.counts()
    for old, new in summary.renamed:
        print(f"renamed {old.name!r} -> {new.name} in {new.parent} (--accept-names)")
    print(
        f"graded {len(summary.graded)} submissions in {summary.seconds:.1f} s "
        f"({len(summary.skipped)} unchanged, skipped; {len(summary.misnamed)} not graded: "
        "wrong file name)"
    )
    for status, n in sorted(counts.items()):
        print(f"  {status}: {n}")
    root = _course(args).root

    def rel(path: Path) -> str:
        return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)

    for m in summary.misnamed:
        found = ", ".join(repr(rel(p)) for p in m.found)
        print(
            f"NOT GRADED {m.student}/{m.lesson}: wrong file name: found {found}, expected "
            f"{m.expected.name}."
        )
        if m.would_take is not None:
            print(
                f"  grade would take {rel(m.would_take)!r}: run `python -m autograder grade "
                f"--accept-names` to rename it to {m.expected.name} and grade it, or collect "
                "the original download again (collect matches such names)"
            )
        else:
            print(
                "  nothing orders these files: rename the one to grade to "
                f"{rel(m.expected)} and run grade again"
            )
    return 0


def cmd_report(args) -> int:
    from autograder.instructor import mistakes
    from autograder.instructor.report import report

    course = _course(args)
    errors = mistakes.collect(course)
    for kind, path in report(course, args.out, errors).items():
        print(f"{kind}: {path}")
    lines = mistakes.summary_lines(errors)
    if lines:
        print("most frequent mistakes (students who made each):")
        print("\n".join(lines))
    return 0


def cmd_lms_grades(args) -> int:
    from autograder.instructor.grades_export import export_grades

    mapping = {}
    for item in args.column or []:
        lesson, sep, column = item.partition("=")
        if not sep:
            raise ValueError(f"--column {item!r}: write it as LESSON=COLUMN")
        mapping[lesson.strip()] = column
    result = export_grades(
        _course(args),
        Path(args.export),
        out=args.out,
        grades=args.grades,
        lessons=args.lessons or None,
        mapping=mapping,
        worksheet_lesson=args.lesson,
        zeros=args.zeros,
        rescale=args.rescale,
    )
    for lesson, column in result.columns.items():
        print(f"{lesson} -> {column!r}")
    for student, lesson, old, new in result.replaced:
        print(f"CHANGES {student}/{lesson}: the LMS has {old}, the file says {new}")
    for student, why in result.without_row:
        print(f"NO ROW {student}: {why}; their grades are not in the file")
    print(
        f"{result.lms}: {result.written} scores written, {result.kept} cells left as exported "
        f"(no graded submission){'; zeros written for no submission' if args.zeros else ''}"
    )
    print(f"import this file: {result.path}")
    return 1 if result.without_row else 0


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
    p.add_argument(
        "--lesson",
        default=None,
        help="the lesson whose LMS assignment this download is (default: from its name)",
    )
    p.add_argument(
        "--roster",
        action="append",
        help="LMS export naming the students: Canvas gradebook export, Moodle gradebook "
        "export or the assignment's Moodle grading worksheet (repeatable)",
    )
    p.add_argument(
        "--keep",
        action="append",
        help="path inside the download to keep where nothing orders two versions (repeatable)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="let a wrong-assignment upload or an older version replace collected work",
    )

    p = step("roster", cmd_roster, "add LMS exports to the class roster")
    p.add_argument("files", nargs="+", help="Canvas/Moodle gradebook export or Moodle worksheet")

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
    p.add_argument(
        "--accept-names",
        action="store_true",
        help="grade a lesson's notebook saved under another name (renames it to <lesson>.ipynb)",
    )

    p = step("report", cmd_report, "CSVs of grades and mistakes, HTML summary, figures")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: reports/)")

    p = step("lms-grades", cmd_lms_grades, "write the LMS's grade import file from the report")
    p.add_argument(
        "export",
        help="the LMS's export: Canvas gradebook export, Moodle gradebook export (Real) or "
        "an assignment's Moodle grading worksheet",
    )
    p.add_argument("--out", type=Path, default=None, help="default: reports/import-<export>")
    p.add_argument("--grades", type=Path, default=None, help="default: reports/grades.csv")
    p.add_argument("--lessons", nargs="*", help="lessons to write (default: all in grades.csv)")
    p.add_argument(
        "--column",
        action="append",
        help="LESSON=COLUMN: the LMS column of a lesson (header, title or Canvas id)",
    )
    p.add_argument("--lesson", default=None, help="the lesson of a Moodle grading worksheet")
    p.add_argument("--zeros", action="store_true", help="write 0 for no submission")
    p.add_argument("--rescale", action="store_true", help="scale scores to the LMS column's points")

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
