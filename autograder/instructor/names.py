"""Names as the LMSs and file systems write them: Unicode forms, student ids, lessons, versions.

* Every name read from a download is NFC-normalised first: macOS writes decomposed (NFD)
  accents, so ``José`` may arrive as ``Jose`` + U+0301 and must still be the same student.
* A student id is a folder name under ``submitted/``: lower case, Unicode letters kept, anything
  that is not a letter, digit or one of ``_ . @ + -`` becomes ``_``.
* The lesson of a file is the lesson id found in its name (``01_add``, ``01-add (2)``,
  ``01_add_final-1``), or its two-digit number when one lesson has it.
* A version suffix is what an LMS appends to a second upload of the same name: Canvas ``-1``,
  ``-2`` (``Attachment.make_unique_filename``), Moodle `` (1)``, `` (2)``
  (``file_storage::get_unused_filename``). They order files that share a base name, nothing else.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePosixPath

_UNSAFE = re.compile(r"[^\w.@+-]+")
_CANVAS_SUFFIX = re.compile(r"^(?P<base>.+?)-(?P<n>[1-9]\d*)$")
_MOODLE_SUFFIX = re.compile(r"^(?P<base>.+?) \((?P<n>[1-9]\d*)\)$")


def nfc(text: str) -> str:
    """``text`` in Unicode normal form C (composed accents), as Windows and Linux write it."""
    return unicodedata.normalize("NFC", text)


def student_id(raw: str) -> str:
    """A file-system-safe student id from a folder name or an LMS identifier.

    Raises
    ------
    ValueError
        If nothing usable is left (a name of only punctuation).
    """
    text = nfc(raw).strip().lower()
    text = re.sub(r"\s+", "_", text)
    text = _UNSAFE.sub("_", text).strip("_.")
    if not text:
        raise ValueError(f"{raw!r} gives no usable student id; rename the folder")
    return text


def _flat(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", nfc(text).lower())


def match_lesson(filename: str, lessons: list[str]) -> str | None:
    """The lesson a file or folder name refers to, or None."""
    stem = PurePosixPath(filename).stem if filename.lower().endswith(".ipynb") else filename
    flat = _flat(stem)
    for lesson in sorted(lessons, key=len, reverse=True):
        if lesson.lower() in flat:
            return lesson
    number = re.match(r"^_?(?:lesson_?)?(\d{2})(?:_|$)", flat)
    if number:
        hits = [lesson for lesson in lessons if lesson.startswith(number.group(1) + "_")]
        if len(hits) == 1:
            return hits[0]
    return None


def version_of(filename: str) -> tuple[str, int]:
    """(base name, version) of a file name: ``a-2.ipynb`` and ``a (2).ipynb`` are ``(a.ipynb, 2)``.

    A name without a suffix is version 0. Only files with the same base name are versions of
    each other; ``version_of`` says nothing about two different names.
    """
    path = PurePosixPath(nfc(filename))
    stem, suffix = path.stem, path.suffix
    for pattern in (_MOODLE_SUFFIX, _CANVAS_SUFFIX):
        m = pattern.match(stem)
        if m:
            return m.group("base") + suffix, int(m.group("n"))
    return stem + suffix, 0
