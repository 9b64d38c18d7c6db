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
"""

from __future__ import annotations

import ast
import hashlib
import hmac
import os
import re
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
