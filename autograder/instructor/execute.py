"""nbgrader's ``Execute`` step, guarded: a dying kernel, grading mode, the ledger after each cell.

:class:`GuardedExecute` replaces nbgrader's ``Execute`` in the worker's ``Autograde`` converter:

* its kernels are :class:`~.kernels.LimitedKernelManager` s (confined, capped, with a fresh
  signing key), or the one :class:`~.kernels.WarmKernel` started ahead;
* before the first cell it runs ``kernel_boot.boot()`` in the kernel (grading mode with the
  kernel's key, before any student code runs), and records why if that failed;
* a dying kernel (``os._exit``, a segfault, the watchdog) no longer aborts nbgrader's run: the
  cell that killed it and every later cell are marked as failed, so nbgrader still scores the
  cells that ran before;
* after every test cell, and after the code cell before it, it reads the warden's signed ledger
  of the checks that ran since (:func:`.kernel_boot.read_ledger`, with a fresh nonce), so each
  test cell's *window* in ``STATE.windows`` holds the checks of that cell alone.

:class:`TruncateOutputs` runs after it and caps every text output.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from nbclient.exceptions import DeadKernelError
from nbclient.util import run_sync as nb_run_sync
from nbconvert.preprocessors import Preprocessor
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Bool

from . import kernel_boot
from .course import grade_id_of
from .kernels import WARM, LimitedKernelManager, WarmKernel, _kill_group
from .worker_state import STATE


class TruncateOutputs(Preprocessor):
    """Cap every text output (nbgrader's ``LimitOutput`` counts lines; 100 MB is one line)."""

    enabled = Bool(True)
    max_chars = 20_000

    def preprocess_cell(self, cell, resources, index):
        for out in cell.get("outputs", []):
            if "text" in out and len(out["text"]) > self.max_chars:
                cut = len(out["text"]) - self.max_chars
                out["text"] = out["text"][: self.max_chars] + f"\n... [{cut} more characters cut]\n"
        return cell, resources


def _error(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(
        output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"]
    )


class GuardedExecute(Execute):
    """nbgrader's Execute that survives the death of the kernel (see the module docstring)
    and takes a kernel started ahead (:class:`WarmKernel`) when one is ready."""

    use_warm_kernel = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["kernel_manager_class"] = LimitedKernelManager
        super().__init__(*args, **kwargs)
        self._dead: str | None = None
        self._since = 0  # ledger entries read so far
        self._ledger_lost: str | None = None  # why the ledger can no longer be trusted
        self._ask_after: set[int] = set()  # cells after which the ledger is read

    def preprocess(self, nb, resources=None, km=None):
        self._dead = None
        self._since, self._ledger_lost = 0, None
        # the ledger is read after every test cell, and before it (after the code cell that
        # precedes it), so that each test cell's window holds the checks of that cell alone
        code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
        tests = [k for k, i in enumerate(code) if grade_id_of(nb.cells[i]) in STATE.tests]
        self._ask_after = {code[k] for k in tests} | {code[k - 1] for k in tests if k > 0}
        warm = WARM.take() if self.use_warm_kernel and km is None else None
        if self.use_warm_kernel and STATE.course is not None:
            name = nb.metadata.get("kernelspec", {}).get("name", "python3")
            WARM.prestart(self.config, name, list(self.extra_arguments), str(STATE.course.root))
        try:
            return super().preprocess(nb, resources, warm or km)
        finally:
            if warm is not None:
                if self.kc is not None:
                    self.kc.stop_channels()
                WarmKernel._stop(warm)
            elif self.km is not None and getattr(self.km, "autograder_dir", None):
                shutil.rmtree(self.km.autograder_dir, ignore_errors=True)

    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()
        STATE.kernel_pid = getattr(self.km, "kernel_pid", None) or self.km.provisioner.pid
        if STATE.timed_out:
            _kill_group(STATE.kernel_pid)
        # Grading mode before the first cell of the notebook (kernel_boot.boot): the kernel
        # reads and deletes its key file; only then does any student code run.
        STATE.key = getattr(self.km, "autograder_key", None)
        STATE.boot_error = None
        msg_id = kc.execute(
            "import autograder.instructor.kernel_boot as _kb; _kb.boot(); del _kb",
            silent=True,
            store_history=False,
        )
        reply = await self.async_wait_for_reply(msg_id)
        content = (reply or {}).get("content", {})
        if content.get("status") != "ok":
            STATE.boot_error = f"{content.get('ename', 'no reply')}: {content.get('evalue', '')}"
        return kc

    # nbclient binds the sync name to its own coroutine at class creation: rebind to ours
    start_new_kernel_client = nb_run_sync(async_start_new_kernel_client)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        if self._dead:
            cell.outputs = [_error("KernelNotRunning", f"not run: {self._dead}")]
            return cell, resources
        try:
            done = super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            if STATE.timed_out:
                self._dead = "the submission ran past its time limit and was stopped"
                cell.outputs.append(_error("TimeLimitExceeded", self._dead))
            else:
                self._dead = "the kernel died in an earlier cell"
                cell.outputs.append(
                    _error("DeadKernelError", "the kernel died while running this cell")
                )
            return cell, resources
        if index in self._ask_after:
            window = self._read_ledger()
            gid = grade_id_of(cell)
            if gid in STATE.tests and gid not in STATE.windows:
                STATE.windows[gid] = window
        return done

    def _read_ledger(self) -> list[kernel_boot.LedgerEntry] | str:
        """The checks that ran since the last call, from the warden's signed ledger."""
        if STATE.key is None or STATE.boot_error:
            return "the kernel is not in grading mode"
        if self._ledger_lost:
            return self._ledger_lost
        nonce = os.urandom(12).hex()
        expression = kernel_boot.ledger_expression(nonce, self._since)
        try:
            msg_id = self.kc.execute(
                "", silent=True, store_history=False, user_expressions={"ledger": expression}
            )
            reply = self.wait_for_reply(msg_id)
        except Exception as exc:  # a dead or stuck kernel: nothing after this is known
            self._ledger_lost = f"the ledger could not be read ({type(exc).__name__})"
            return self._ledger_lost
        answer = ((reply or {}).get("content", {}).get("user_expressions") or {}).get("ledger")
        text = ((answer or {}).get("data") or {}).get("text/plain", "")
        read = kernel_boot.read_ledger(STATE.key, nonce, self._since, str(text))
        if read is None:
            self._ledger_lost = "the kernel's answer for the ledger was not the warden's"
            return self._ledger_lost
        self._since, outcomes = read
        return outcomes
