"""Does the student's work folder get every new lesson and never lose a student's file?"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
try:
    from tools.work_folder import main, seed
finally:
    sys.path.remove(str(REPO))


def _course(root: Path, lessons: dict[str, str]) -> Path:
    folder = root / "lessons"
    for name, text in lessons.items():
        path = folder / name / f"{name}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder


def test_new_lessons_are_added_and_existing_files_never_touched(tmp_path):
    """Seed, edit a copy, then (as after a git pull) change that lesson and add a new one:
    is the edit kept, the change reported, the new lesson copied?"""
    lessons = _course(tmp_path, {"01_a": "lesson 1", "02_b": "lesson 2"})
    work = tmp_path / "work"
    first = seed(lessons, work)
    assert sorted(map(str, first.added)) == ["01_a/01_a.ipynb", "02_b/02_b.ipynb"]
    assert (work / "02_b" / "02_b.ipynb").read_text() == "lesson 2"
    (work / "01_a" / "01_a.ipynb").write_text("my answers")
    (work / "01_a" / "notes.txt").write_text("mine too")
    _course(tmp_path, {"01_a": "lesson 1, corrected", "03_c": "lesson 3"})
    second = seed(lessons, work)
    assert [str(p) for p in second.added] == ["03_c/03_c.ipynb"]
    assert (work / "01_a" / "01_a.ipynb").read_text() == "my answers"
    assert (work / "01_a" / "notes.txt").read_text() == "mine too"
    assert (work / "03_c" / "03_c.ipynb").read_text() == "lesson 3"
    assert [str(p) for p in second.updated_upstream] == ["01_a/01_a.ipynb"]
    third = seed(lessons, work)
    assert third.added == [] and len(third.kept) == 3


def test_a_deleted_copy_comes_back_and_hidden_files_stay_out(tmp_path):
    """Deleting one's copy is how to start a lesson again; checkpoints are not lessons."""
    lessons = _course(tmp_path, {"01_a": "lesson 1"})
    (lessons / "01_a" / ".ipynb_checkpoints").mkdir()
    (lessons / "01_a" / ".ipynb_checkpoints" / "01_a-checkpoint.ipynb").write_text("old")
    work = tmp_path / "work"
    seed(lessons, work)
    assert not (work / "01_a" / ".ipynb_checkpoints").exists()
    (work / "01_a" / "01_a.ipynb").unlink()
    assert [str(p) for p in seed(lessons, work).added] == ["01_a/01_a.ipynb"]


def test_bad_folders_are_refused_with_a_way_out(tmp_path, capsys):
    """A missing lessons folder, a work 'folder' that is a file, or one inside lessons/."""
    lessons = _course(tmp_path, {"01_a": "lesson 1"})
    with pytest.raises(ValueError, match="not a folder"):
        seed(tmp_path / "nowhere", tmp_path / "work")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="pass WORK=other"):
        seed(lessons, tmp_path / "file")
    with pytest.raises(ValueError, match="outside"):
        seed(lessons, lessons / "work")
    assert main([str(lessons), str(tmp_path / "file")]) == 2
    assert "error:" in capsys.readouterr().out


@pytest.mark.skipif(shutil.which("git") is None, reason="asks git itself")
def test_the_repository_ignores_the_work_folder():
    """Does git ignore work/ (so a student's answers never block a git pull), and only that?"""

    def ignored(path: str) -> bool:
        done = subprocess.run(["git", "-C", str(REPO), "check-ignore", "-q", "--no-index", path])
        return done.returncode == 0

    assert ignored("work/01_neurons/01_neurons.ipynb")
    assert not ignored("lessons/01_neurons/01_neurons.ipynb")
    assert not ignored("tools/work_folder.py")
