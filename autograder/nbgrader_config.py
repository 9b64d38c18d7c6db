"""nbgrader settings of the course (loaded by the course root's ``nbgrader_config.py``).

* ``solutions/`` holds the source notebooks, ``lessons/`` the released ones.
* Each cell may run for 60 s at most (the slowest graded cell, training on spirals, takes a few
  seconds); a cell that times out is interrupted and the rest of the notebook still runs.
* The kernel starts quietly: no history file, no "running over TCP without encryption" warning
  (ipykernel 7), which would otherwise land on stderr of the first cell.
* Kernels talk to nbgrader over Unix sockets (``ipc``), not TCP: jupyter_client finds free TCP
  ports by binding and releasing them, and in the gap another process (or the client's own
  connections) can take one, so the kernel's heartbeat or shell fails to bind
  (jupyter_client#154). Not on Windows, which has no Unix sockets here.
* Feedback removes hidden tests from cell sources; the test-cell helpers never print hidden
  inputs, and a failing check renders as its message alone, so tracebacks do not show them
  either.
"""

import os
import sys
import tempfile
import warnings

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import ClearHiddenTests, GetGrades
from sqlalchemy.exc import SAWarning

# "Object of type <SubmittedAssignment> not in session" on a student's first autograde.
warnings.filterwarnings("ignore", category=SAWarning, module="nbgrader")

c = get_config()  # noqa: F821

c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "lessons"

c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True
c.Execute.extra_arguments = [
    "--HistoryManager.hist_file=:memory:",
    "--IPKernelApp.log_level=ERROR",
]

_SOCKETS = os.path.join(tempfile.gettempdir(), f"nbgrader-{os.getpid()}-zmq")  # + "-<n>"
if sys.platform != "win32" and len(_SOCKETS.encode()) <= 100:  # a socket path has <= 107 bytes
    c.KernelManager.transport = "ipc"
    c.KernelManager.ip = _SOCKETS

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, CSSHTMLHeaderPreprocessor]
