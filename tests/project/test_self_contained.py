"""Does the repository stand on its own, with no reference to files a clone does not have?"""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Written in pieces so that this file does not match itself.
OUTSIDE = ("../" + "shared", "/work/" + "shared", "COURSE" + "_SPEC")


def _tracked_files() -> list[Path]:
    """Every file git tracks in the repository (fails clearly outside a git checkout)."""
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO), "ls-files", "-z"],
            capture_output=True,
            check=True,
            text=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise AssertionError(
            f"cannot list the tracked files with `git ls-files` in {REPO} ({exc}); "
            "run the tests from a git clone of the project"
        ) from exc
    return [REPO / name for name in out.split("\0") if name]


def _outside_references(paths: list[Path], root: Path = REPO) -> list[str]:
    found = []
    for path in paths:
        if not path.is_file():
            continue  # deleted in the work tree but still in the index
        text = path.read_bytes().decode("utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            for needle in OUTSIDE:
                if needle.lower() in line.lower():
                    found.append(f"{path.relative_to(root)}:{number}: {needle}")
    return found


def test_no_tracked_file_refers_outside_the_repository():
    """Does any tracked file name the team's shared folder or its course specification?"""
    found = _outside_references(_tracked_files())
    assert found == [], (
        "these lines refer to files outside the repository, which a clone does not have; "
        "write what they need into CONVENTIONS.md (or ARCHITECTURE.md) and refer to that:\n"
        + "\n".join(found)
    )


def test_the_listing_sees_the_documents_it_must_check():
    """The scan must cover the documents, or the test above would pass on nothing."""
    names = {p.relative_to(REPO).as_posix() for p in _tracked_files()}
    assert {"README.md", "ARCHITECTURE.md", "CONVENTIONS.md", "nnkit/__init__.py"} <= names


def test_the_scan_finds_each_pattern_when_present(tmp_path):
    """The scanner itself reports every pattern, in any case, with file and line."""
    sample = tmp_path / "doc.md"
    sample.write_text("intro\n" + "".join(f"see {needle.upper()}/x.md\n" for needle in OUTSIDE))
    clean = tmp_path / "clean.md"
    clean.write_text("see CONVENTIONS.md\n")
    found = _outside_references([sample, clean], root=tmp_path)
    assert found == [f"doc.md:{i + 2}: {needle}" for i, needle in enumerate(OUTSIDE)]
