"""Start an IPython kernel confined by Linux Landlock (run as a script, not imported as a package).

The worker starts every grading kernel as ``python .../autograder/instructor/landlock.py -f
CONNECTION_FILE`` instead of ``python -m ipykernel_launcher``. Run by path, this file imports
nothing of ``autograder`` (the package is imported later, by ``kernel_boot.boot()``, once the
kernel's shell exists). Before ipykernel starts a single thread, :func:`confine` restricts the
process and everything it starts:

* reading: the Python installation, the course's packages, system folders and the user's
  configuration and cache folders; never a folder that holds the course (its gradebook,
  submissions, solutions) or the workers' copies of it;
* writing: only its own folder (``AUTOGRADER_KERNEL_DIR``: working directory, ``TMPDIR``,
  ``IPYTHONDIR``) and ``/dev/null``;
* network (ABI 4): no TCP at all — the worker's kernels talk over Unix sockets in their own
  folder — or, for a kernel on TCP, bind only its own ports; connect nowhere;
* signals and abstract Unix sockets (ABI 6): nothing outside itself; Landlock also forbids
  ptrace of processes outside the domain.

So a submission cannot edit the gradebook, the course's code or another submission, install a
``.pth`` or IPython startup file for the next kernel, or kill the grader. Where Landlock is
missing (or ``AUTOGRADER_NO_LANDLOCK=1`` is set in the grader's environment) the kernel runs
unconfined and says so on its own stderr (no notebook sees it); the warden's refusals in the
kernel (processes, sockets, signals, ``ctypes``) still apply.
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import os
import sys
from pathlib import Path

KEY_FILE = ".key"
ENV_DIR = "AUTOGRADER_KERNEL_DIR"
ENV_EXCLUDE = "AUTOGRADER_HIDE"  # os.pathsep-separated folders the kernel may not read
ENV_OFF = "AUTOGRADER_NO_LANDLOCK"  # set to 1 to run grading kernels unconfined (diagnosis)

# --------------------------------------------------------------------------------------------
# Landlock


_SYS_CREATE, _SYS_ADD_RULE, _SYS_RESTRICT = 444, 445, 446
_PR_SET_NO_NEW_PRIVS = 38
_RULE_PATH_BENEATH, _RULE_NET_PORT = 1, 2
_FS_EXECUTE, _FS_WRITE_FILE, _FS_READ_FILE, _FS_READ_DIR = 1, 2, 4, 8
_FS_ABI1 = (1 << 13) - 1  # EXECUTE .. MAKE_SYM
_FS_REFER, _FS_TRUNCATE = 1 << 13, 1 << 14
_NET_BIND_TCP, _NET_CONNECT_TCP = 1, 2
_SCOPE_ABSTRACT_UNIX, _SCOPE_SIGNAL = 1, 2
_READ = _FS_EXECUTE | _FS_READ_FILE | _FS_READ_DIR
_FILE_RIGHTS = _FS_EXECUTE | _FS_WRITE_FILE | _FS_READ_FILE | _FS_TRUNCATE


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class _NetPort(ctypes.Structure):
    _fields_ = [("allowed_access", ctypes.c_uint64), ("port", ctypes.c_uint64)]


def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def landlock_abi() -> int:
    """The kernel's Landlock ABI version (0 when unavailable)."""
    if not sys.platform.startswith("linux"):
        return 0
    try:
        abi = _libc().syscall(_SYS_CREATE, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    except Exception:
        return 0
    return max(0, int(abi))


def _read_paths(kernel_dir: Path, hide: list[Path]) -> list[Path]:
    home = Path.home()
    candidates = [
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        "/usr",
        "/lib",
        "/lib64",
        "/bin",
        "/sbin",
        "/etc",
        "/proc",
        "/sys",
        "/dev",
        "/opt",
        home / ".cache",
        home / ".config",
        home / ".local",
        home / ".jupyter",
        home / ".mpl",
        os.environ.get("MPLCONFIGDIR", ""),
        os.environ.get("JUPYTER_RUNTIME_DIR", ""),
        os.environ.get("JUPYTER_DATA_DIR", ""),
        os.environ.get("JUPYTER_CONFIG_DIR", ""),
        kernel_dir,
    ]
    for entry in sys.path:
        if entry:
            candidates.append(entry)
    for name in ("nnkit", "autograder"):
        here = Path(__file__).resolve().parents[2] / name
        if here.is_dir():
            candidates.append(here)
        # where this interpreter imports them from (an editable install may point elsewhere);
        # find_spec locates a top-level package without importing it
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        candidates += list(getattr(spec, "submodule_search_locations", None) or [])
    try:
        from jupyter_core.paths import jupyter_config_path, jupyter_path, jupyter_runtime_dir

        candidates += [*jupyter_config_path(), *jupyter_path(), jupyter_runtime_dir()]
    except Exception:  # pragma: no cover
        pass
    out: list[Path] = []
    for c in candidates:
        if not c:
            continue
        p = Path(c).resolve()
        if not p.exists() or p == Path("/"):
            continue
        if any(h.is_relative_to(p) for h in hide):
            continue  # never a folder holding the course (gradebook, other submissions)
        if p not in out:
            out.append(p)
    return out


def confine(
    kernel_dir: Path,
    ports: list[int],
    hide: list[Path] | None = None,
    files: list[Path] | None = None,
) -> str:
    """Apply Landlock to this process (and everything it starts). Returns a short status."""
    abi = landlock_abi()
    if abi < 1:
        return "landlock unavailable: kernel not confined"
    libc = _libc()
    handled_fs = _FS_ABI1 | (_FS_REFER if abi >= 2 else 0) | (_FS_TRUNCATE if abi >= 3 else 0)
    attr = _RulesetAttr(
        handled_access_fs=handled_fs,
        handled_access_net=(_NET_BIND_TCP | _NET_CONNECT_TCP) if abi >= 4 else 0,
        scoped=(_SCOPE_ABSTRACT_UNIX | _SCOPE_SIGNAL) if abi >= 6 else 0,
    )
    size = ctypes.sizeof(_RulesetAttr) if abi >= 6 else 16 if abi >= 4 else 8
    fd = libc.syscall(_SYS_CREATE, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if fd < 0:
        return f"landlock_create_ruleset failed: {os.strerror(ctypes.get_errno())}"

    def add_path(path: Path, access: int) -> None:
        try:
            pfd = os.open(str(path), os.O_PATH | os.O_CLOEXEC)
        except OSError:
            return
        try:
            if not path.is_dir():
                access &= _FILE_RIGHTS
            rule = _PathBeneath(allowed_access=access & handled_fs, parent_fd=pfd)
            libc.syscall(
                _SYS_ADD_RULE,
                ctypes.c_int(fd),
                ctypes.c_int(_RULE_PATH_BENEATH),
                ctypes.byref(rule),
                ctypes.c_uint32(0),
            )
        finally:
            os.close(pfd)

    try:
        for path in _read_paths(kernel_dir, [Path(h).resolve() for h in hide or []]):
            add_path(path, _READ)
        for path in files or []:
            add_path(path.resolve(), _FS_READ_FILE)
        add_path(kernel_dir, handled_fs)
        add_path(Path("/dev/null"), _FS_READ_FILE | _FS_WRITE_FILE | _FS_TRUNCATE)
        if abi >= 4:
            for port in ports:
                rule = _NetPort(allowed_access=_NET_BIND_TCP, port=int(port))
                libc.syscall(
                    _SYS_ADD_RULE,
                    ctypes.c_int(fd),
                    ctypes.c_int(_RULE_NET_PORT),
                    ctypes.byref(rule),
                    ctypes.c_uint32(0),
                )
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return f"prctl(NO_NEW_PRIVS) failed: {os.strerror(ctypes.get_errno())}"
        if libc.syscall(_SYS_RESTRICT, ctypes.c_int(fd), ctypes.c_uint32(0)) != 0:
            return f"landlock_restrict_self failed: {os.strerror(ctypes.get_errno())}"
    finally:
        os.close(fd)
    return f"landlock ABI {abi}: kernel confined to {kernel_dir}"


def _connection_file(argv: list[str]) -> Path | None:
    for i, arg in enumerate(argv):
        if arg == "-f" and i + 1 < len(argv):
            return Path(argv[i + 1])
        if arg.startswith("--f="):
            return Path(arg[4:])
    return None


def _ports(path: Path | None) -> list[int]:
    if path is None:
        return []
    info = json.loads(path.read_text())
    if info.get("transport", "tcp") != "tcp":  # ipc: socket files in the kernel's folder
        return []
    return [int(info[k]) for k in info if k.endswith("_port")]


def main() -> None:
    """Confine the process, then start ipykernel as ``ipykernel_launcher`` would."""
    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if p and str(Path(p).resolve()) != here]
    folder = os.environ.get(ENV_DIR)
    if folder and os.environ.get(ENV_OFF) == "1":
        print(f"[autograder] {ENV_OFF}=1: kernel not confined", file=sys.stderr)
    elif folder:
        hide = [h for h in os.environ.pop(ENV_EXCLUDE, "").split(os.pathsep) if h]
        connection = _connection_file(sys.argv[1:])
        files = [connection] if connection is not None else []
        status = confine(Path(folder), _ports(connection), hide, files)
        if not status.startswith("landlock ABI"):
            print(f"[autograder] {status}", file=sys.stderr)
    import warnings

    # ipykernel's pipe for subprocess output needs a free port; a confined kernel has none
    # (and may not start subprocesses anyway)
    warnings.filterwarnings("ignore", message="Couldn't bind IOPub Pipe")
    from ipykernel import kernelapp as app

    app.launch_new_instance()


if __name__ == "__main__":
    main()
