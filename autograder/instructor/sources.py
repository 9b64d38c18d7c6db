"""Reading a download (a folder or a zip) as a list of files with clean, comparable names.

* Zip entry names: an entry without the zip's UTF-8 flag is decoded by Python as code page 437,
  but macOS's Archive Utility and many other tools write UTF-8 bytes without setting the flag;
  such names are re-read as UTF-8 when that decodes. Every name is then NFC-normalised.
* Entries that would land outside the download (``../x``, absolute paths) are refused, and
  system files (``__MACOSX/``, ``.DS_Store``, dot files) are skipped.
* Zip entry times are *not* read: Canvas and Moodle stamp every entry with the time of the
  download, so they say nothing about when a student submitted.
* A wrapping folder around the whole download (zipping a folder, or extracting downloads into
  one parent) is recognised by :func:`strip_wrappers` and reported, never taken for a student.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .names import match_lesson, nfc

_UTF8_FLAG = 0x800


@dataclass
class Entry:
    """One file of a download.

    ``parts`` is its path inside the download after the wrapping folders (NFC), ``raw`` the path
    exactly as stored (what the instructor sees when opening the zip).
    """

    parts: tuple[str, ...]
    raw: str
    read: Callable[[], bytes] = field(repr=False)
    _data: bytes | None = field(default=None, repr=False)

    @property
    def rel(self) -> str:
        return "/".join(self.parts)

    def data(self) -> bytes:
        if self._data is None:
            self._data = self.read()
        return self._data

    def sha256(self) -> str:
        return hashlib.sha256(self.data()).hexdigest()


def zip_name(info: zipfile.ZipInfo) -> str:
    """The entry's name as its writer meant it (UTF-8 without the flag included), not yet
    normalised (NFD stays NFD)."""
    name = info.filename
    if not info.flag_bits & _UTF8_FLAG:
        try:
            name = name.encode("cp437").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass  # really code page 437 (old Windows tools): keep Python's reading
    return name


def _skipped(parts: tuple[str, ...]) -> bool:
    return any(p.startswith(".") or p == "__MACOSX" for p in parts)


def read_source(source: Path) -> list[Entry]:
    """Every file of the folder or zip ``source``, in name order (wrappers not yet stripped).

    Raises
    ------
    ValueError
        If ``source`` is missing, neither a folder nor a zip, or holds an unsafe path.
    """
    source = Path(source)
    if not source.exists():
        raise ValueError(f"source {str(source)!r} does not exist; pass a folder or a .zip file")
    entries: list[Entry] = []
    if source.is_dir():
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            raw = path.relative_to(source).as_posix()
            parts = tuple(nfc(p) for p in path.relative_to(source).parts)
            if not _skipped(parts):
                entries.append(Entry(parts, raw, path.read_bytes))
        return entries
    if not zipfile.is_zipfile(source):
        raise ValueError(f"source {str(source)!r} is neither a folder nor a zip file")
    with zipfile.ZipFile(source) as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            raw = zip_name(info).replace("\\", "/")
            parts = tuple(nfc(p) for p in raw.split("/") if p not in ("", "."))
            if raw.startswith("/") or ".." in parts or (parts and ":" in parts[0]):
                raise ValueError(
                    f"{source.name} holds an entry that points outside it ({info.filename!r}); "
                    "this is not an LMS download: unpack it yourself and pass the folder"
                )
            if parts and not _skipped(parts):
                data = zf.read(info)
                entries.append(Entry(parts, raw, lambda d=data: d, data))
    entries.sort(key=lambda e: e.parts)
    return entries


def strip_wrappers(
    entries: list[Entry], lessons: list[str], is_lms_name: Callable[[str], bool]
) -> list[str]:
    """Remove folders that wrap the whole download from every entry; return the ones removed.

    A folder is a wrapper when every file lies below it and it is not a student's folder: a
    student folder holds files of its own (``ann/01_add.ipynb``, ``ann/notes.txt``) or only
    lesson folders (``ann/01_add/01_add.ipynb``); a wrapper holds student folders, LMS
    submission folders or LMS-named files (``downloads/ann/...``,
    ``downloads/Jane Doe_77_assignsubmission_file/...``, ``downloads/smith_12_34_01_add.ipynb``).
    """
    removed: list[str] = []
    while entries and all(len(e.parts) > 1 for e in entries):
        heads = {e.parts[0] for e in entries}
        head = next(iter(heads))
        if len(heads) != 1 or is_lms_name(head):
            break
        files = [e.parts[1] for e in entries if len(e.parts) == 2]
        folders = {e.parts[1] for e in entries if len(e.parts) > 2}
        if any(not is_lms_name(f) for f in files):
            break  # a student's own files
        if not files and all(
            match_lesson(f, lessons) is not None and not is_lms_name(f) for f in folders
        ):
            break  # a student's lesson folders
        removed.append(head)
        for e in entries:
            e.parts = e.parts[1:]
    return removed
