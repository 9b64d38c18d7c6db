"""Is the sandbox package readable module by module, without handing its warden's state out?

The warden's state (its copy of the snapshot, the stack of forbidden references, the signing
key, the set of its own code objects) must live only in the closures that ``make_warden``
builds. These tests find the warden the way an attacker with ``gc`` would (before grading mode,
when ``gc`` is still allowed), list what its closures hold, and then walk everything reachable
from the package's module namespaces as student code could, looking for any of it.
"""

from __future__ import annotations

import dis
import gc
import json
import subprocess
import sys
import types
from pathlib import Path

import autograder.sandbox

PACKAGE_DIR = str(Path(autograder.sandbox.__file__).parent) + "/"


def _find_hook() -> types.FunctionType:
    hooks = [
        o
        for o in gc.get_objects()
        if type(o) is types.FunctionType
        and o.__code__.co_name == "hook"
        and o.__code__.co_filename.startswith(PACKAGE_DIR)
        and o.__closure__
    ]
    assert len(hooks) == 1, f"expected the one installed warden hook, found {len(hooks)}"
    return hooks[0]


def _closure_functions(hook: types.FunctionType) -> dict[int, types.FunctionType]:
    """Every function of the package reachable from ``hook`` through closure cells."""
    found: dict[int, types.FunctionType] = {}
    todo = [hook]
    while todo:
        fn = todo.pop()
        if id(fn) in found:
            continue
        found[id(fn)] = fn
        for cell in fn.__closure__ or ():
            try:
                value = cell.cell_contents
            except ValueError:
                continue
            if type(value) is types.FunctionType and value.__code__.co_filename.startswith(
                PACKAGE_DIR
            ):
                todo.append(value)
    return found


def _global_reads(code: types.CodeType) -> set[str]:
    names = {
        ins.argval
        for ins in dis.get_instructions(code)
        if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME", "STORE_GLOBAL", "DELETE_GLOBAL")
    }
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_reads(const)
    return names


def test_every_module_of_the_package_is_short():
    """Can each module be read in one sitting (no more than 400 lines)?"""
    lengths = {p.name: len(p.read_text().splitlines()) for p in Path(PACKAGE_DIR).glob("*.py")}
    assert len(lengths) >= 8, lengths
    assert max(lengths.values()) <= 400, lengths


def test_the_wardens_functions_read_no_global_variable_and_skip_their_own_frames():
    """Does every function of the warden take what it uses from its closure (so rebinding a
    module global or a builtin cannot redirect it, and no state sits in a module), and does
    ``caller()`` know all of them as the warden's own frames?"""
    functions = _closure_functions(_find_hook())
    names = {fn.__name__ for fn in functions.values()}
    assert {"hook", "caller", "restore", "on_core", "sign", "foreign_threads"} <= names, names
    reads = {
        f"{fn.__module__}.{fn.__qualname__}": sorted(_global_reads(fn.__code__))
        for fn in functions.values()
    }
    assert {k: v for k, v in reads.items() if v} == {}
    caller = next(fn for fn in functions.values() if fn.__name__ == "caller")
    cells = dict(zip(caller.__code__.co_freevars, caller.__closure__, strict=True))
    own = cells["own"].cell_contents
    assert {fn.__code__ for fn in functions.values()} <= own


# Runs in a fresh process: grading mode cannot be left again.
EXPOSURE_SCRIPT = r"""
import gc, json, sys, types
import numpy as np
import autograder
from autograder import sandbox
import autograder.sandbox as package

PACKAGE_DIR = sys.argv[1]
KEY, SALT = bytes(range(100, 132)), bytes(range(200, 232))
FORBID = ("softmax", "relu_backward", "adam_step")
CONTAINERS = (dict, list, set, frozenset, tuple, bytes, bytearray)

# 1. The warden's state, found the way gc would (still allowed before grading mode).
hook = next(
    o for o in gc.get_objects()
    if type(o) is types.FunctionType and o.__code__.co_name == "hook"
    and o.__code__.co_filename.startswith(PACKAGE_DIR) and o.__closure__
)
functions, todo = {}, [hook]
while todo:
    fn = todo.pop()
    if id(fn) in functions:
        continue
    functions[id(fn)] = fn
    for cell in fn.__closure__ or ():
        try:
            value = cell.cell_contents
        except ValueError:
            continue
        if type(value) is types.FunctionType and value.__code__.co_filename.startswith(PACKAGE_DIR):
            todo.append(value)

def harmless(value):
    # an immutable container of strings (an event name list, a folder prefix list) is no state
    return type(value) in (tuple, frozenset) and all(type(v) is str for v in value)

state = {}  # id -> description of every container a warden closure holds
for fn in functions.values():
    for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()):
        try:
            value = cell.cell_contents
        except ValueError:
            continue
        if type(value) in CONTAINERS and not harmless(value):
            state[id(value)] = f"{fn.__qualname__}:{name}"
warden_state = next(
    cell.cell_contents
    for fn in functions.values()
    for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ())
    if name == "state"
)
warden_ids = set(functions)

assert sandbox.enter_grading_mode(KEY, SALT)
for key, value in warden_state.items():  # the key, the salt, the stack, the streams, ...
    if type(value) in CONTAINERS and not harmless(value):
        state[id(value)] = f"state[{key!r}]"

# 2. Everything student code can reach from the package's modules without gc.
def reachable():
    modules = [m for n, m in sorted(sys.modules.items()) if n.startswith("autograder.sandbox")]
    seen, todo, found = set(), [], []
    for module in modules:
        todo.append((vars(module), module.__name__))
    while todo:
        obj, path = todo.pop()
        if id(obj) in seen or isinstance(obj, (types.ModuleType, types.CodeType)):
            continue
        seen.add(id(obj))
        if id(obj) in state:
            found.append(f"{path} is the warden's {state[id(obj)]}")
        if id(obj) in warden_ids:
            found.append(f"{path} is the warden's function {obj.__qualname__}")
        if type(obj) in (bytes, bytearray, str):
            data = obj.encode("latin-1", "replace") if type(obj) is str else bytes(obj)
            for secret, label in ((KEY, "key"), (SALT, "salt")):
                if secret in data or secret.hex().encode() in data:
                    found.append(f"{path} holds the signing {label}")
            continue
        if type(obj) in (set, frozenset, tuple, list) and set(FORBID) <= set(
            v for v in obj if type(v) is str
        ):
            found.append(f"{path} holds the forbidden references of the running call")
        if isinstance(obj, dict):
            for k, v in list(obj.items()):
                todo.append((k, f"{path} key"))
                todo.append((v, f"{path}[{k!r}]"))
        elif isinstance(obj, (list, tuple, set, frozenset)):
            todo.extend((v, f"{path}[]") for v in list(obj))
        elif isinstance(obj, types.FunctionType):
            for name, cell in zip(obj.__code__.co_freevars, obj.__closure__ or ()):
                try:
                    todo.append((cell.cell_contents, f"{path}.<cell {name}>"))
                except ValueError:
                    pass
            todo.append((obj.__defaults__, f"{path}.__defaults__"))
            todo.append((obj.__kwdefaults__, f"{path}.__kwdefaults__"))
            todo.append((obj.__dict__, f"{path}.__dict__"))
        elif isinstance(obj, types.MethodType):
            todo.append((obj.__func__, f"{path}.__func__"))
            todo.append((obj.__self__, f"{path}.__self__"))
        elif isinstance(obj, (staticmethod, classmethod)):
            todo.append((obj.__func__, f"{path}.__func__"))
        elif isinstance(obj, property):
            todo.extend((f, f"{path}.fget") for f in (obj.fget, obj.fset, obj.fdel))
        elif isinstance(obj, type):
            if obj.__module__.startswith(("autograder", "nnkit")):
                todo.append((dict(vars(obj)), f"{path}.__dict__"))
        else:
            try:
                todo.append((dict(vars(obj)), f"{path}.__dict__"))
            except TypeError:
                pass
    return found, len(seen)

def probe():
    status = sandbox.warden_status()
    found, size = reachable()
    return {"found": found, "walked": size, "forbidden": status["forbidden"]}

# 3. Walk while a student call runs with references forbidden (the stack is not empty).
outcome = sandbox.call_student(probe, forbid=FORBID)
assert outcome.error is None, repr(outcome.error)
report = {"clean": outcome.frozen, "state": len(state), "functions": len(functions)}

# 4. The walk can fail: the same walk after the state is planted in a module.
package.warden._leaked_state = warden_state
package.calls._leaked_key = {"signing": bytes(bytearray(KEY))}
outcome = sandbox.call_student(probe, forbid=FORBID)
report["planted"] = outcome.frozen
print(json.dumps(report))
"""


def test_no_module_of_the_package_exposes_the_wardens_state(tmp_path):
    """In grading mode, during a student call with references forbidden: can anything
    reachable from the package's modules (globals, classes, closures, defaults, attributes)
    lead to the warden's state, its functions, the signing key or the forbidden set - and does
    the same walk find them once they are stored in a module?"""
    script = tmp_path / "exposure.py"
    script.write_text(EXPOSURE_SCRIPT)
    run = subprocess.run(
        [sys.executable, str(script), PACKAGE_DIR], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    clean, planted = report["clean"], report["planted"]
    assert report["functions"] >= 20 and report["state"] >= 20, report
    assert clean["forbidden"] == sorted(["softmax", "relu_backward", "adam_step"]), clean
    assert clean["walked"] > 10_000, clean  # the walk went through the grader's modules
    assert clean["found"] == [], clean["found"][:20]
    planted_found = "\n".join(planted["found"])
    for finding in (
        "warden['_leaked_state'] is the warden's ",
        "warden['_leaked_state']['key'] holds the signing key",
        "warden['_leaked_state']['stack'][][] holds the forbidden references of the running call",
        "calls['_leaked_key']['signing'] holds the signing key",
    ):
        assert finding in planted_found, planted_found[:3000]
