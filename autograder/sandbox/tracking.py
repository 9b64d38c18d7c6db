"""Reference tracking: which references a student call may not use, and catching their use.

The warden keeps a stack of scopes for the running check: a *forbid* scope per student call
(:func:`autograder.sandbox.calls.call_student` names the references it forbids) and an *allow*
scope where the grader itself computes an expected value with a reference
(``references.allow_references``). The references forbidden now are those of the forbid scopes
above the innermost allow scope. A use is caught on two paths:

* the reference's guard wrapper raises ``nnkit.reference`` (the direct call ``nnkit.softmax``):
  recorded, and refused with :class:`nnkit._guard.ReferenceCallError`;
* an instrumented implementation raises ``nnkit.core`` (the unwrapped function, a copy of its
  code, a private helper behind it; see :mod:`autograder.sandbox.references`): recorded, unless
  an allowed reference is the one using the helper.

Each forbid scope collects the names it caught; closing it returns them.
"""

from __future__ import annotations

from typing import Any

from nnkit import _guard


def make_tracking(
    state: dict, caller: Any, *, owners: dict[str, frozenset], wrappers: dict, nnkit_dir: str
) -> tuple[Any, Any, Any, Any, Any]:
    """Build ``(forbidden_now, push, pop, on_reference, on_core)`` over ``state["stack"]``.

    Parameters
    ----------
    state : dict
        The warden's state; ``state["stack"]`` holds ``(kind, names, token, caught)`` entries.
    caller : callable
        ``caller() -> frame``: the first frame outside the warden.
    owners : dict
        Instrumentation tag -> names of the references the tagged function belongs to.
    wrappers : dict
        Code object of each reference's guard wrapper -> the reference's name.
    nnkit_dir : str
        Folder of ``nnkit``: frames there are walked through to find the wrapper in use.

    Returns
    -------
    forbidden_now : callable
        ``forbidden_now() -> set[str]``.
    push : callable
        ``push(kind, names) -> token`` opens a ``"forbid"`` or ``"allow"`` scope.
    pop : callable
        ``pop(token) -> list[str]`` closes the scopes down to ``token``'s; returns the names
        caught in the forbid scopes it closed.
    on_reference, on_core : callable
        Handlers of the ``nnkit.reference(name)`` and ``nnkit.core(tag)`` events.
    """
    # Everything the closures below use is bound here: they read no global variable.
    stack = state["stack"]
    reference_error = _guard.ReferenceCallError
    reversed_, set_, sorted_, frozenset_, object_ = reversed, set, sorted, frozenset, object
    owners, wrappers = dict(owners), dict(wrappers)

    def forbidden_now():
        names = set_()
        for entry in reversed_(stack):
            if entry[0] == "allow":
                break
            names |= entry[1]
        return names

    def record(names, first_only=False):
        for entry in reversed_(stack):
            if entry[0] == "forbid":
                if first_only and entry[3]:
                    return
                for n in names:
                    if n not in entry[3]:
                        entry[3].append(n)
                return

    def push(kind, names):
        token = object_()
        stack.append((kind, frozenset_(names), token, []))
        return token

    def pop(token):
        calls = []
        while stack:
            entry = stack.pop()
            if entry[0] == "forbid":
                calls.extend(entry[3])
            if entry[2] is token:
                break
        return calls

    def on_reference(name):
        if stack and name in forbidden_now():
            record([name])
            raise reference_error(
                f"nnkit.{name} is the reference for the function you are writing; "
                "implement it yourself instead of calling it."
            )

    def on_core(tag):
        if not stack:
            return
        names = owners.get(tag)
        if not names:
            return
        forb = forbidden_now()
        hit = names & forb
        if not hit:
            return
        f = caller()  # the instrumented function's own frame
        f = f.f_back if f is not None else None
        while f is not None:
            c = f.f_code
            if c in wrappers:
                if wrappers[c] not in forb:
                    return  # an allowed reference uses this helper
                break
            if not c.co_filename.startswith(nnkit_dir):
                break
            f = f.f_back
        if tag[:4] == "raw:" and tag[4:] in hit:
            record([tag[4:]])
        else:
            record(sorted_(hit), first_only=True)  # a helper behind the reference

    return forbidden_now, push, pop, on_reference, on_core
