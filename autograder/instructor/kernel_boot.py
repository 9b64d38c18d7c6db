"""The kernel a submission is graded in: confined by the OS, and in grading mode before any cell.

Two steps, both driven by :mod:`.worker`:

* the kernel's command is ``python .../instructor/landlock.py -f CONNECTION_FILE`` (instead of
  ``-m ipykernel_launcher``), which confines the process before ipykernel starts (see
  :mod:`.landlock`);
* :func:`boot`, run by the worker as a silent first execution, before any cell of the notebook:
  it reads the kernel's signing key (and the course's salt for hidden parts' seeds) from
  ``AUTOGRADER_KERNEL_DIR/.key`` and deletes the file, imports ``autograder`` (which installs
  the warden, see :mod:`autograder.sandbox`) and switches it to grading mode with the key.
  From then on every passing ``check`` prints a signature (an HMAC of the lesson, function and
  part) that only this key produces, and :func:`verified` (in the worker, outside the kernel)
  counts a test cell only if each of its ``check`` calls printed a valid one.

The warden also keeps a *ledger*: the outcome of every check the notebook ran (lesson,
function, part, passed or the mistake id and headline of :mod:`autograder.mistake_ids`), in
order. After each cell the worker asks for the entries since the last time with a fresh nonce
(:func:`ledger_expression`, evaluated as a ``user_expressions`` of a silent execution) and
:func:`read_ledger` checks the warden's HMAC over the nonce and the entries. So the worker
knows which checks ran during each test cell and what they found; a student can neither write
an entry (only ``check``'s own code can add one), nor remove one (the ledger only grows), nor
replay an old answer (the nonce).
"""

from __future__ import annotations

import ast
import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .landlock import ENV_DIR, ENV_EXCLUDE, KEY_FILE  # noqa: F401 - the worker's names

_SIGNED = re.compile(
    r"✓ (?P<function>\S+) · (?P<part>\S+)(?: \(hidden\))?: passed \([^)]*\) ⟪(?P<tag>[0-9a-f]+)⟫"
)

_TAG = re.compile(r" ⟪[0-9a-f]+⟫")


def strip_signatures(text: str) -> str:
    """``text`` without the signatures (they mean nothing to a student, and are one-off)."""
    return _TAG.sub("", text)


# --------------------------------------------------------------------------------------------
# Signatures (the worker's side)


def signature(key: bytes, lesson: str, function: str, part: str) -> str:
    """The signature ``check`` prints for a passing part (the warden computes the same)."""
    msg = f"{lesson}\x1f{function}\x1f{part}".encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()[:24]


def checks_in(source: str) -> list[tuple[str, str]]:
    """``(function, part)`` of every ``check("function", ..., part="p")`` call in ``source``."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "check"):
            continue
        if not node.args or not isinstance(node.args[0], ast.Constant):
            continue
        part = "values"
        for kw in node.keywords:
            if kw.arg == "part" and isinstance(kw.value, ast.Constant):
                part = kw.value.value
        found.append((str(node.args[0].value), str(part)))
    return found


def verified(key: bytes, lesson: str, required: list[tuple[str, str]], stdout: str) -> list[str]:
    """The ``function · part`` of ``required`` without a valid signature in ``stdout``."""
    good = {
        (m["function"], m["part"])
        for m in _SIGNED.finditer(stdout)
        if hmac.compare_digest(m["tag"], signature(key, lesson, m["function"], m["part"]))
    }
    return [f"{f} · {p}" for f, p in required if (f, p) not in good]


# --------------------------------------------------------------------------------------------
# The ledger of check outcomes (the worker's side)

# separators of the warden's ledger text (never inside a field: the warden replaces them)
_GROUP, _RECORD, _FIELD = "\x1d", "\x1e", "\x1f"


@dataclass(frozen=True)
class LedgerEntry:
    """One check the notebook ran, as the warden recorded it."""

    seq: int
    lesson: str
    function: str
    part: str
    passed: bool
    mistake: str  # "" when passed
    headline: str


def ledger_expression(nonce: str, since: int) -> str:
    """The expression the worker evaluates in the kernel after a cell (``user_expressions``)."""
    return (
        "__import__('autograder.instructor.kernel_boot', fromlist=['ledger'])"
        f".ledger({nonce!r}, {int(since)})"
    )


def ledger_tag(key: bytes, payload: str) -> str:
    """The warden's HMAC of a ledger answer (the worker recomputes it)."""
    return hmac.new(key, b"ledger" + _FIELD.encode() + payload.encode(), hashlib.sha256).hexdigest()


def read_ledger(
    key: bytes, nonce: str, since: int, text: str
) -> tuple[int, list[LedgerEntry]] | None:
    """``(count, outcomes since since)`` from the kernel's answer ``text`` (the ``repr`` of
    ``(payload, tag)``), or ``None`` if it is not the warden's answer to this very question:
    bad signature, other nonce or start, missing or extra entries."""
    try:
        payload, tag = ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    if not (isinstance(payload, str) and isinstance(tag, str)):
        return None
    if not hmac.compare_digest(tag, ledger_tag(key, payload)):
        return None
    try:
        got_nonce, got_since, count, complete, body = payload.split(_GROUP)
        count, got_since = int(count), int(got_since)
        outcomes = []
        for record in body.split(_RECORD) if body else []:
            seq, lesson, function, part, passed, mistake, headline = record.split(_FIELD)
            outcomes.append(
                LedgerEntry(int(seq), lesson, function, part, passed == "1", mistake, headline)
            )
    except ValueError:  # a field too many or too few, not a number
        return None
    if got_nonce != nonce or got_since != since or complete != "1":
        return None
    if [o.seq for o in outcomes] != list(range(since + 1, count + 1)):
        return None
    return count, outcomes


# --------------------------------------------------------------------------------------------
# In the kernel: grading mode


def boot() -> None:
    """Switch this kernel to grading mode (run by the worker before the first cell)."""
    folder = os.environ.pop(ENV_DIR, None)
    data = b""
    if folder:
        path = Path(folder) / KEY_FILE
        try:
            data = path.read_bytes()
        finally:
            path.unlink(missing_ok=True)
    key, salt = data[:32], data[32:]  # signing key of this kernel, the course's hidden salt
    import autograder  # noqa: F401 - installs the warden
    from autograder import sandbox

    try:  # tqdm's monitor thread would count as a background thread of the notebook
        import tqdm

        tqdm.tqdm.monitor_interval = 0
    except Exception:  # pragma: no cover
        pass
    if not sandbox.enter_grading_mode(key, salt):
        raise RuntimeError("could not switch the kernel to grading mode")


def ledger(nonce: str, since: int) -> tuple[str, str]:
    """In the kernel: the warden's signed ``(payload, tag)`` of the checks after ``since``."""
    from autograder import sandbox

    return sandbox.ledger(nonce, since)
