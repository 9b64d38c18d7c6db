"""What the warden refuses, and when: the audit hook itself.

:func:`make_hook` builds the function given to ``sys.addaudithook``. It sends the protocol's
events (``autograder.*``, ``nnkit.*``) to the warden's dispatcher and answers the others:

* always: replacing the code or defaults of a grader or ``nnkit`` function (unless the grader
  does it), making a function from grader code, changing the class of a grader object or the
  name/bases of a grader class, adding another audit hook;
* while a check runs: stack-frame introspection (``sys._getframe``, ``tb_frame``, ...),
  tracing, ``gc`` and ``ctypes`` - a student's function cannot walk up to the grader's frames
  and read the expected value;
* in grading mode, for the whole notebook: the same, plus new processes, signals to other
  processes, sockets, building code objects, running the grader's code objects outside the
  import system, compiling code under the grader's file names (unless it is the file's own
  text), and opening ``/proc/*/mem`` or ``/proc/*/environ``.

Events of the thread the warden itself is running in are ignored (``state["busy"]``).
"""

from __future__ import annotations

import io
import threading
import types
from typing import Any

from .threads import library_prefixes

# Events that read the grader's frames or objects behind its back.
INTROSPECTION = frozenset(
    {
        "sys._getframe",
        "sys._current_frames",
        "sys.settrace",
        "sys.setprofile",
        "gc.get_objects",
        "gc.get_referrers",
        "gc.get_referents",
        "sys.addaudithook",
    }
)
# Events that start processes or signal other processes (grading mode).
PROCESSES = frozenset(
    {
        "os.fork",
        "os.forkpty",
        "os.posix_spawn",
        "os.spawn",
        "os.exec",
        "os.system",
        "subprocess.Popen",
        "os.kill",
        "os.killpg",
        "signal.pthread_kill",
        "sys.remote_exec",
    }
)
OTHER_WATCHED = frozenset(
    {
        "object.__getattr__",
        "object.__setattr__",
        "object.__delattr__",
        "function.__new__",
        "code.__new__",
        "exec",
        "compile",
        "open",
    }
)
# Attributes that lead from an object to a stack frame.
FRAME_ATTRIBUTES = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame", "f_back"})
# Attributes of a class that change what it is.
TYPE_SPECIALS = frozenset({"__bases__", "__module__", "__name__", "__qualname__"})


def make_hook(
    state: dict,
    protocol: Any,
    *,
    caller: Any,
    trusted_caller: Any,
    protected_code: Any,
    deny: Any,
    protected_modules: frozenset,
    protected_classes: frozenset,
    protected_dirs: tuple[str, ...],
) -> Any:
    """Build the audit hook ``hook(event, args)``.

    Parameters
    ----------
    state : dict
        The warden's state: ``busy`` (ident of the thread the warden runs in), ``checks`` (open
        checks), ``exempt`` (threads alive when grading began), ``grading``.
    protocol : callable
        ``protocol(event, args)``: the handler of ``autograder.*`` and ``nnkit.*`` events.
    caller, trusted_caller, protected_code : callable
        The first frame outside the warden; whether its code is the grader's; whether a code
        object is the grader's.
    deny : callable
        ``deny(what)`` raises :class:`~autograder.sandbox.audit.WardenError`.
    protected_modules : frozenset of int
        ``id`` of every remembered module (their class may not change).
    protected_classes : frozenset of type
        The grader's classes.
    protected_dirs : tuple of str
        Folders of the grader's source files.
    """
    # Everything the closure below uses is bound here: it reads no global variable.
    get_ident = threading.get_ident
    isinstance_, type_, id_, len_, str_, bytes_ = isinstance, type, id, len, str, bytes
    os_error, class_type = OSError, type
    function_type = types.FunctionType
    open_ = io.open
    prefixes = library_prefixes()
    compile_checked = protected_dirs + prefixes[:-1]
    introspection, processes = INTROSPECTION, PROCESSES
    watched = INTROSPECTION | PROCESSES | OTHER_WATCHED
    frame_attrs, type_specials = FRAME_ATTRIBUTES, TYPE_SPECIALS

    def protected_function(fn):
        return isinstance_(fn, function_type) and protected_code(fn.__code__)

    def hook(event, args):
        if event[:11] == "autograder." or event[:6] == "nnkit.":
            return protocol(event, args)
        if event not in watched and event[:7] != "ctypes." and event[:7] != "socket.":
            return
        ident = get_ident()
        if state["busy"] == ident:
            return
        checking = state["checks"] > 0 and ident not in state["exempt"]
        grading = state["grading"]
        if event == "object.__setattr__" or event == "object.__delattr__":
            obj, name = args[0], args[1]
            if isinstance_(obj, function_type):
                bad = protected_function(obj) or (
                    name == "__code__" and len_(args) > 2 and protected_code(args[2])
                )
                if bad and not trusted_caller():
                    deny(f"changing {name} of the grader's function {obj.__qualname__}")
            elif name == "__class__" and (
                id_(obj) in protected_modules or type_(obj) in protected_classes
            ):
                deny("changing the class of a grader object")
            elif (
                name in type_specials and isinstance_(obj, class_type) and obj in protected_classes
            ):
                deny(f"changing {name} of the grader's class {obj.__qualname__}")
            return
        if event == "function.__new__":
            if protected_code(args[0]) and not trusted_caller():
                deny("making a new function from grader or nnkit code")
            return
        if event == "object.__getattr__":
            if checking and len_(args) > 1 and args[1] in frame_attrs:
                deny("inspecting stack frames")
            return
        if event in introspection:
            if event == "sys.addaudithook":
                deny("adding an audit hook")
            if checking:
                deny(event)
            if grading and event not in ("sys._getframe",):
                deny(event)
            return
        if event[:7] == "ctypes.":
            if checking or grading:
                deny("ctypes")
            return
        if not grading:
            return
        if event in processes:
            deny(f"{event} (starting processes or sending signals)")
        if event[:7] == "socket.":
            deny("network access")
        if event == "code.__new__":
            if not trusted_caller():
                deny("building code objects")
            return
        if event == "exec":
            code = args[0] if args else None
            if protected_code(code):
                f = caller()
                name = f.f_code.co_filename if f is not None else ""
                if not name.startswith("<frozen importlib"):
                    deny("running the grader's code objects")
            return
        if event == "compile":
            filename = args[1] if len_(args) > 1 else None
            if isinstance_(filename, (str_, bytes_)):
                filename = filename.decode() if isinstance_(filename, bytes_) else filename
                if filename.startswith(compile_checked):
                    source = args[0]
                    state["busy"] = ident
                    try:
                        with open_(filename, "rb") as fh:
                            disk = fh.read()
                    except os_error:
                        disk = None
                    finally:
                        state["busy"] = None  # events of this thread are not the warden's now
                    if isinstance_(source, str_):
                        source = source.encode("utf-8")
                    if source != disk:
                        deny("compiling code under the grader's file names")
            return
        if event == "open":
            path = args[0]
            if isinstance_(path, bytes_):
                path = path.decode(errors="replace")
            if (
                isinstance_(path, str_)
                and path.startswith("/proc/")
                and path.endswith(("/mem", "/environ"))
            ):
                deny("reading or writing process memory")
            return

    return hook
