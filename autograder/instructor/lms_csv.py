"""CSV files as the LMSs write them, read and written back without changing their dialect.

Canvas writes its gradebook export with a comma or, in some locales, a semicolon, with or
without a UTF-8 byte-order mark (``GradebookExporter#to_csv``: ``col_sep``, ``include_bom``), and
its importer sniffs the separator from the first lines (``GradebookImporter#identify_delimiter``).
Moodle writes UTF-8 with the separator the instructor chose. A file written back keeps the
separator, the byte-order mark and the line ending it was read with, so the LMS reads it as
it reads its own export.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path


@dataclass
class CsvTable:
    """A CSV file: its header, its rows (lists of cells) and how it was written."""

    path: Path
    header: list[str]
    rows: list[list[str]]
    delimiter: str = ","
    bom: bool = False
    newline: str = "\r\n"

    def column(self, name: str) -> int | None:
        """Index of the column whose header is ``name`` (spaces around it ignored)."""
        names = [h.strip() for h in self.header]
        return names.index(name) if name in names else None


def _delimiter(text: str) -> str:
    """``;`` or ``,``: the one that splits the first records into equally many, more fields."""
    counts = {}
    for sep in (";", ","):
        try:
            records = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
            sizes = {len(r) for _, r in zip(range(3), (r for r in records if r), strict=False)}
        except csv.Error:
            sizes = set()
        counts[sep] = sizes.pop() if len(sizes) == 1 else 0
    return ";" if counts[";"] > counts[","] else ","


def read_table(path: Path) -> CsvTable:
    """Read ``path``; raises ``ValueError`` saying how to fix a file that is not UTF-8 CSV."""
    path = Path(path)
    raw = path.read_bytes()
    bom = raw.startswith(b"\xef\xbb\xbf")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{path.name} is not UTF-8 text ({exc.reason} at byte {exc.start}); download it "
            "again from the LMS, or save it as 'CSV UTF-8' in your spreadsheet program"
        ) from None
    newline = "\r\n" if "\r\n" in text else "\n"
    if not text.strip():
        raise ValueError(f"{path.name} is empty; download the export again")
    delimiter = _delimiter(text)
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    return CsvTable(path, rows[0], rows[1:], delimiter, bom, newline)


def write_table(table: CsvTable, path: Path) -> Path:
    """Write ``table`` to ``path`` in the dialect it was read with."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, delimiter=table.delimiter, lineterminator=table.newline)
    writer.writerow(table.header)
    writer.writerows(table.rows)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((b"\xef\xbb\xbf" if table.bom else b"") + buf.getvalue().encode("utf-8"))
    return path


def format_score(value: float) -> str:
    """A score as ``grades.csv`` writes it (``7``, ``7.5``), which both LMSs read."""
    return f"{value:g}"
