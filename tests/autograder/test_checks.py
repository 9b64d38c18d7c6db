"""Does the test-cell API (check / self_check) grade untrusted code safely, quietly and honestly?"""

from __future__ import annotations

import sys
import warnings

import numpy as np
import numpy.testing
import pytest

import autograder
import nnkit
from autograder import CheckFailed, check, framework, self_check


def _stable_sigmoid(a):
    a = np.asarray(a)
    a = a if a.dtype.kind == "f" else a.astype(float)
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e))


def _softmax(z):
    z = np.asarray(z)
    z = z if z.dtype.kind == "f" else z.astype(float)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_passing_check_prints_to_stdout_only(capsys):
    """Does a passing part print a one-line success on stdout and nothing on stderr?"""
    check("sigmoid", _stable_sigmoid, part="values")
    out, err = capsys.readouterr()
    assert out.startswith("✓ sigmoid · values: passed") and err == ""


def test_failure_renders_as_the_student_message_only():
    """Does a failed check render (IPython) as its message lines, without test source?"""
    with pytest.raises(CheckFailed) as info:
        check("sigmoid", np.tanh, part="hidden")
    lines = info.value._render_traceback_()
    assert lines[0] == "✗ sigmoid · hidden (hidden): 0 of 1 point"
    assert any("tanh(a)" in line for line in lines)
    text = "\n".join(lines)
    assert "check(" not in text and "Traceback" not in text and "Worked example" not in text


def test_hidden_failures_give_only_a_rough_error_size():
    """Does a failed hidden part hide the exact difference (which would reveal the expected)?"""
    with pytest.raises(CheckFailed) as info:
        check("cross_entropy", lambda p, y: 1.0, part="hidden")
    text = str(info.value)
    assert "relative error" in text and "largest difference" not in text
    with pytest.raises(CheckFailed) as info:
        check("cross_entropy", lambda p, y: 1.0, part="values")
    assert "largest difference" in str(info.value)


def test_student_warnings_stderr_and_prints_become_stdout_hints(capsys):
    """Are warnings, prints to stderr and NumPy overflow of a student shown as hints on stdout?"""

    def noisy_sigmoid(a):
        warnings.warn("my own warning", UserWarning, stacklevel=1)
        print("debug output", file=sys.stderr)
        return 1 / (1 + np.exp(-a))  # overflows for a = -1000, values still right

    check("sigmoid", noisy_sigmoid, part="edge")
    out, err = capsys.readouterr()
    assert err == ""
    assert "my own warning" in out and "debug output" in out and "overflow" in out


def test_hidden_parts_do_not_echo_what_the_student_printed(capsys):
    """Can a student not read hidden inputs by printing them inside the function?"""

    def leaky(a):
        print("INPUT", np.asarray(a).tolist())
        return _stable_sigmoid(a)

    check("sigmoid", leaky, part="hidden")
    out, _ = capsys.readouterr()
    assert "INPUT" not in out and "hidden during grading" in out


def test_calling_the_reference_earns_nothing_even_if_caught():
    """Is a part lost when the answer calls the nnkit reference, even inside try/except?"""

    def sneaky(z):
        try:
            return nnkit.softmax(z)
        except Exception:
            return _softmax(z)

    with pytest.raises(CheckFailed, match=r"nnkit\.softmax"):
        check("softmax", sneaky, part="values")


def test_switching_the_reference_guard_off_does_not_help():
    """Is an answer that disables the reference guard and then calls the reference caught?"""
    from nnkit import _guard

    def sneaky(z):
        _guard._forbidden.set(frozenset())
        return nnkit.softmax(z)

    with pytest.raises(CheckFailed, match="no points"):
        check("softmax", sneaky, part="values")


def test_monkeypatching_is_undone_and_reported():
    """Are numpy/nnkit/autograder attributes replaced by a student restored, and the grade real?"""
    originals = (np.allclose, numpy.testing.assert_allclose, nnkit.softmax, autograder.check)

    def tamper(z):
        np.allclose = lambda *a, **k: True
        numpy.testing.assert_allclose = lambda *a, **k: None
        nnkit.softmax = lambda z: z
        autograder.check = None
        return np.exp(z)  # wrong

    with pytest.raises(CheckFailed) as info:
        check("softmax", tamper, part="values")
    assert (
        np.allclose,
        numpy.testing.assert_allclose,
        nnkit.softmax,
        autograder.check,
    ) == originals
    assert "without dividing" in str(info.value)


def test_editing_the_grader_registry_or_its_functions_is_undone():
    """Can an answer cell not empty a hidden part, drop a catalogue or rewrite a case generator?"""
    from autograder.cases import l02_softmax

    spec = framework.SPECS["softmax"]
    hidden_cases = spec.cases["hidden"]
    code = l02_softmax._softmax_hidden.__code__
    spec.cases["hidden"] = lambda rng: []
    spec.mistakes.clear()
    l02_softmax._softmax_hidden.__code__ = (lambda rng: []).__code__
    framework.MANIFEST.clear()
    compare_case = framework.Context.compare_case
    framework.Context.compare_case = lambda *args, **kwargs: None
    with pytest.raises(CheckFailed) as info:
        check("softmax", lambda z: np.exp(z) / np.exp(z).sum(-1, keepdims=True), part="hidden")
    assert "subtract the maximum" in str(info.value)
    assert spec.cases["hidden"] is hidden_cases and l02_softmax._softmax_hidden.__code__ is code
    assert len(framework.MANIFEST) > 50
    assert framework.Context.compare_case is compare_case


def test_tampering_before_the_check_is_restored(capsys):
    """Does a check restore attributes replaced earlier by an answer cell, and say so?"""
    original = np.asarray
    np.asarray = lambda *a, **k: None
    try:
        check("sigmoid", _stable_sigmoid, part="values")
    finally:
        assert np.asarray is original
    assert "numpy.asarray" in capsys.readouterr().out


def test_in_place_mutation_is_detected():
    """Is an answer that changes its input in place failed with a message saying so?"""

    def mutating(z):
        z -= z.max(axis=-1, keepdims=True)
        return _softmax(z)

    with pytest.raises(CheckFailed, match="changed its input `z` in place"):
        check("softmax", mutating, part="values")


@pytest.mark.parametrize(
    "bad",
    [
        lambda a: None,
        lambda a: "0.5",
        lambda a: np.zeros(10**6),
        lambda a: sys.exit(3),
        lambda a: [][1],
        lambda a: type("Weird", (), {"__array__": lambda self, *x, **k: 1 / 0})(),
    ],
    ids=["none", "string", "huge", "sys.exit", "indexerror", "array-raises"],
)
def test_untrusted_outputs_fail_politely(bad):
    """Does any weird return value or exception become a failed part, never a grader crash?"""
    with pytest.raises(CheckFailed) as info:
        check("sigmoid", bad, part="values")
    assert info.value.lines[0].startswith("✗ sigmoid · values")


def test_recursion_and_not_implemented_are_reported():
    """Are a stub and infinite recursion both reported as a failed part?"""

    def stub(a):
        raise NotImplementedError()

    def recurse(a):
        return recurse(a)

    with pytest.raises(CheckFailed, match="NotImplementedError"):
        check("sigmoid", stub, part="values")
    with pytest.raises(CheckFailed, match="RecursionError"):
        check("sigmoid", recurse, part="values")


def test_grading_is_deterministic_and_leaves_global_random_state_alone():
    """Does a student using np.random get the same verdict twice, with the global state kept?"""

    def noisy(a):
        return _stable_sigmoid(a) + np.random.normal(0, 1e-3, size=np.shape(a))  # noqa: NPY002

    state = np.random.get_state()[1].copy()  # noqa: NPY002
    verdicts = []
    for _ in range(2):
        try:
            check("sigmoid", noisy, part="values")
            verdicts.append("pass")
        except CheckFailed as failed:
            verdicts.append(str(failed))
    assert verdicts[0] == verdicts[1]
    assert np.array_equal(np.random.get_state()[1], state)  # noqa: NPY002


def test_unknown_part_tells_the_student_it_is_not_their_fault():
    with pytest.raises(CheckFailed, match="instructor"):
        check("sigmoid", _stable_sigmoid, part="nope")


def test_self_check_reports_visible_points_and_remaining_hidden_parts(capsys):
    """Does self_check add up visible points and announce hidden parts, never 'all passed'?"""

    def stub(a):
        raise NotImplementedError()

    result = self_check({"sigmoid": _stable_sigmoid, "sigmoid_grad": stub}, lesson="01_neurons")
    out = capsys.readouterr().out
    parts = framework.manifest("01_neurons")
    visible = sum(p.points for p in parts if not p.hidden)
    hidden = [p for p in parts if p.hidden]
    sigmoid_visible = sum(p.points for p in parts if p.function == "sigmoid" and not p.hidden)
    assert result["earned"] == sigmoid_visible
    assert f"{sigmoid_visible} of {visible} points earned so far" in out
    assert f"{len(hidden)} more parts worth {sum(p.points for p in hidden)} points" in out
    assert "not written yet" in out and "not defined" in out
    assert "all tests passed" not in out.lower()


def test_self_check_guesses_the_lesson_from_the_namespace(capsys):
    result = self_check({"softmax": _softmax, "np": np})
    assert result["lesson"] == "02_softmax"
    assert "Self-check of 02_softmax" in capsys.readouterr().out


def test_notebook_guard_rebinds_check_after_an_answer_cell_replaces_it():
    """In IPython, is `check` put back before the next cell when an answer cell rebinds it?"""
    interactiveshell = pytest.importorskip("IPython.core.interactiveshell")
    shell = interactiveshell.InteractiveShell.instance()
    try:
        shell.run_cell("from autograder import check")
        framework.protect_names_in_notebook(check=check, self_check=self_check)
        shell.run_cell("check = lambda *a, **k: print('fooled')")
        shell.run_cell("verdict = check")
        assert shell.user_ns["verdict"] is check
        # a graded function whose answer cell failed gets a stand-in: "not defined", no NameError
        shell.run_cell("def softmax(z)\n    return z")
        result = shell.run_cell('check("softmax", softmax, part="values")')
        assert isinstance(result.error_in_exec, CheckFailed)
        assert "softmax is not defined" in str(result.error_in_exec)
    finally:
        interactiveshell.InteractiveShell.clear_instance()


def test_manifest_parts_all_have_a_runner_and_positive_points():
    """Does every manifest row point at a registered function with cases or a runner?"""
    for part in framework.MANIFEST:
        spec = framework.SPECS[part.function]
        assert part.part in spec.cases or part.part in spec.runners
        assert part.points > 0 and spec.concept == part.concept
    ids = [p.grade_id for p in framework.MANIFEST]
    assert len(ids) == len(set(ids))


def test_every_value_graded_function_has_a_mistake_catalogue():
    """Has every function graded by value comparison at least four catalogued mistakes?"""
    value_graded = [spec for spec in framework.SPECS.values() if spec.cases]
    assert len(value_graded) >= 20  # the filter must not empty the check
    for spec in value_graded:
        # Functions graded only by custom runners (statistics of random initialisers, behaviour of
        # xor_params/train_mlp) name their mistakes in the runner; their mutant tests prove it.
        assert len(spec.mistakes) >= 4, spec.name
