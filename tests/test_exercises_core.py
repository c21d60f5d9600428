"""The exercise checker: verdicts, messages that name input/expected/got, lookup, copies, lazy cases, comparators."""
import numpy as np
import pytest

from camlab.exercises import core
from camlab.exercises.core import Case, CheckResult, Exercise, box_close, close, equal, none_or


def _double(x):
    return np.asarray(x, dtype=np.float64) * 2


def make_exercise(**overrides):
    options = dict(
        name="double it",
        func_name="double",
        cases=[Case((np.array([1.0, 2.0]),), label="two numbers"), Case((np.zeros((7, 7)),), label="a 7x7 map")],
        reference=_double,
        hint="Multiply by 2.",
        solution="def double(x):\n    return x * 2",
    )
    options.update(overrides)
    return Exercise(**options)


def test_correct_answers_pass_loop_or_vectorized_list_or_array():
    q = make_exercise()

    def double_loop(x):
        out = np.empty_like(x)
        for index in np.ndindex(x.shape):
            out[index] = x[index] + x[index]
        return out

    for answer in (lambda x: x * 2, double_loop, lambda x: (x * 2).tolist(), lambda x: (x * 2).astype(np.float32)):
        result = q.grade(answer)
        assert result == CheckResult("correct", "`double` passed all 2 cases.", passed=2, total=2)


def test_incorrect_names_the_case_the_input_what_was_expected_and_what_came_back():
    result = make_exercise().grade(lambda x: x * 3)
    assert result.status == "incorrect"
    assert "case 1 of 2, two numbers" in result.message
    assert "array([1., 2.]" in result.message  # the input
    assert "index (1,): expected 4, got 6" in result.message  # the worst value, expected vs got
    assert "(expected [2., 4.]; got [3., 6.])" in result.message
    assert "2 of 2 values differ" in result.message


def test_wrong_shape_is_reported_before_values():
    result = make_exercise().grade(lambda x: (x * 2)[None])
    assert result.status == "incorrect"
    assert "expected shape (2,), got (1, 2)" in result.message


def test_not_attempted_for_a_stub_and_for_an_undefined_name():
    q = make_exercise()

    def stub(x):
        # YOUR CODE HERE
        raise NotImplementedError()

    assert q.grade(stub).status == "not_attempted"
    assert "NotImplementedError" in q.grade(stub).message
    missing = q.grade(namespace={})
    assert missing.status == "not_attempted"
    assert "Define a function named `double`" in missing.message


def test_error_reports_type_message_and_case():
    def broken(x):
        if x.ndim == 2:
            raise KeyError("block5_conv3")
        return x * 2

    result = make_exercise().grade(broken)
    assert result.status == "error"
    assert result.message.startswith("KeyError: 'block5_conv3'")
    assert "case 2 of 2, a 7x7 map" in result.message
    assert "array of shape (7, 7)" in result.message


def test_something_not_callable_is_incorrect():
    result = make_exercise().grade(42)
    assert result.status == "incorrect"
    assert "should be a function" in result.message


def test_check_finds_the_function_in_the_callers_globals(capsys):
    q = make_exercise()
    namespace = {"q": q, "np": np}
    exec("def double(x):\n    return x + x\nresult = q.check()", namespace)
    assert namespace["result"].status == "correct"
    assert capsys.readouterr().out.startswith("Correct (public checks): `double` passed all 2 cases.")
    exec("def double(x):\n    return x\nresult = q.grade()", namespace)  # grade() looks there too, silently
    assert namespace["result"].status == "incorrect"
    assert capsys.readouterr().out == ""
    exec("result = q.check()", {"q": q})  # nothing named `double` there
    assert "Not attempted (public checks): Define a function named `double`" in capsys.readouterr().out


def test_use_gives_the_learners_function_only_after_it_passed_and_says_which(capsys):
    q = make_exercise(name="07 q1: double it")
    namespace = {"q": q, "np": np}
    exec("twice = q.use()", namespace)  # nothing defined yet: the reference, so later cells still run
    assert namespace["twice"] is _double
    assert capsys.readouterr().out.strip() == (
        "Using camlab's `test_exercises_core._double` (your `double` is not defined yet)")
    exec("def double(x):\n    return x\nq.check()\ntwice = q.use()", namespace)  # wrong: still the reference
    assert namespace["twice"] is _double
    assert capsys.readouterr().out.strip().endswith("(your `double` has not passed `q1.check()` yet)")
    exec("def double(x):\n    return x + x\nq.check()\ntwice = q.use()", namespace)
    assert namespace["twice"] is namespace["double"]
    assert capsys.readouterr().out.strip().endswith("Using your `double` (it passed `q1.check()`)")
    exec("def double(x):\n    return x * 3\ntwice = q.use()", namespace)  # redefined after passing, not checked
    assert namespace["twice"] is _double
    assert "changed since it passed: run `q1.check()` again" in capsys.readouterr().out
    assert [e["yours"] for e in core.results_log() if e["event"] == "use" and e["exercise"] == q.name] == [
        False, False, True, False]


def test_a_function_that_changes_its_input_is_incorrect_and_cannot_corrupt_later_cases():
    seen = []

    def sneaky(x):
        seen.append(x.copy())
        x *= 2  # in place: changes the caller's array
        return x

    q = make_exercise()
    result = q.grade(sneaky)
    assert result.status == "incorrect"
    assert "changed its input (argument 1)" in result.message
    assert "x = x.copy()" in result.message
    # the case's own data is intact: a later, honest answer still passes
    assert np.array_equal(q.cases[0].args[0], [1.0, 2.0])
    assert q.grade(lambda x: x * 2).status == "correct"
    assert np.array_equal(seen[0], [1.0, 2.0])


def test_keyword_and_dict_inputs_are_copied_too():
    q = make_exercise(func_name="scale", cases=[Case((), {"item": {"image": np.ones(3)}})],
                      reference=lambda item: item["image"] * 2)

    def mutates(item):
        item["image"][0] = 9
        return item["image"] * 2

    assert "argument `item`" in q.grade(mutates).message
    assert q.grade(lambda item: item["image"] + item["image"]).status == "correct"


def test_lazy_cases_are_built_once_on_first_check():
    calls = []

    def build():
        calls.append(1)
        return [Case((np.arange(3.0),), label="lazy")]

    q = make_exercise(cases=build)
    assert calls == []  # defining the exercise builds nothing
    assert q.grade(lambda x: x * 2).status == "correct"
    assert q.grade(lambda x: x * 2).status == "correct"
    assert calls == [1]


def test_explicit_expected_values_and_expected_none():
    q = make_exercise(cases=[Case((0.0,), expected=None), Case((1.0,), expected=5.0)],
                      reference=lambda x: None if x == 0 else 2 * x, compare=none_or(close()))
    assert q.cases[0].expected.value is None  # computed by the reference: "no answer" is the answer
    result = q.grade(lambda x: None if x == 0 else 2 * x)
    assert result.status == "incorrect" and "expected 5, got 2" in result.message
    assert q.grade(lambda x: None if x == 0 else 5.0).status == "correct"


def test_close_messages():
    compare = close(atol=1e-3)
    assert compare(np.zeros((7, 7)), np.zeros((7, 7), np.float32)) is None
    assert compare(np.zeros((7, 7)), np.zeros((1, 7, 7))) == "expected shape (7, 7), got (1, 7, 7)"
    nan = compare(np.ones((2, 2)), np.array([[1, np.nan], [1, 1]]))
    assert nan.startswith("your answer contains NaN (1 of 4 values)")
    assert compare(0.5, float("nan")).startswith("your answer contains NaN;")
    assert compare(0.5, 0.8) == "expected 0.5, got 0.8"
    assert compare(0.5, 0.5004) is None
    assert "got None (did you forget to `return`" in compare(np.ones(3), None)
    assert compare(np.ones(3), "ones") == "expected [1., 1., 1.], got str 'ones'"
    assert compare(np.ones(3), [[1, 2], [3]]).startswith("expected [1., 1., 1.], got list")  # ragged
    big = compare(np.linspace(0, 1, 100), np.linspace(0, 2, 100))
    assert "99 of 100 values differ" in big and "index (99,): expected 1, got 2" in big
    assert "expected shape (100,), values in [0, 1]" in big


def test_none_or_and_equal_messages():
    compare = none_or(close())
    assert compare(None, None) is None
    assert compare(None, [0.1, 0.2]) == "expected None for this input, got [0.1, 0.2]"
    assert compare(np.ones(2), None) == "expected array([1., 1.], dtype=float64), got None"
    assert compare(np.ones(2), [1, 1]) is None
    assert equal()(3, 3) is None
    assert equal()("avg_pool", "gap") == "expected 'avg_pool', got 'gap'"
    assert equal()(np.arange(3), np.arange(4)) == \
        "expected array([0, 1, 2], dtype=int64), got array([0, 1, 2, 3], dtype=int64)"


def test_box_close_messages():
    compare = box_close(atol=0.01)
    box = [0.1, 0.2, 0.5, 0.6]
    assert compare(box, np.array(box) + 0.005) is None
    assert compare(box, [0.2, 0.1, 0.6, 0.5]).endswith("(x and y swapped? the order is [ymin, xmin, ymax, xmax])")
    assert compare(box, [0.1, 0.2, 0.5]) == "expected shape (4,) (boxes as [ymin, xmin, ymax, xmax]), got (3,)"
    assert compare(box, None).startswith("expected [0.1, 0.2, 0.5, 0.6], got None")
    assert compare(None, box).startswith("expected None")
    assert compare(box, [0.1, np.nan, 0.5, 0.6]).startswith("your box contains NaN")


def test_a_custom_comparator_is_used_and_its_message_shown():
    def same_sign(expected, got):
        return None if np.sign(expected) == np.sign(got) else f"expected the sign of {expected}"

    q = make_exercise(cases=[Case((-3.0,))], reference=lambda x: x, compare=same_sign)
    assert q.grade(lambda x: -1).status == "correct"
    assert q.grade(lambda x: 1).message == "On case 1 of 1, (-3.0): expected the sign of -3.0."


def test_verdicts_are_logged_for_graders():
    core.results_log(clear=True)
    q = make_exercise()
    q.grade(lambda x: x * 2)
    q.grade(namespace={})
    log = core.results_log(clear=True)
    assert [(e["event"], e["exercise"], e["status"]) for e in log] == [("check", "double it", "correct"),
                                                                       ("check", "double it", "not_attempted")]
    assert core.results_log() == []


def test_hint_and_solution_are_shown(capsys):
    q = make_exercise()
    q.hint()
    q.solution()
    out = capsys.readouterr().out
    assert "Hint: Multiply by 2." in out
    assert "Solution:\n    def double(x):\n        return x * 2" in out
    assert "def _double(x):" in make_exercise(solution=None).solution_source()  # falls back to the reference


def test_html_verdicts_escape_the_message():
    html = CheckResult("incorrect", "expected <b>1</b>")._repr_html_()
    assert "&lt;b&gt;1&lt;/b&gt;" in html and "#cf222e" in html and "<b>Incorrect (public checks)</b>" in html
    assert "<b>Incorrect</b>" in CheckResult("incorrect", "x", scope="graded")._repr_html_()


def test_bad_definitions_are_refused_clearly():
    with pytest.raises(ValueError, match="status must be one of"):
        CheckResult("maybe")
    with pytest.raises(TypeError, match=r"Case\(args=\(x,\)\)"):
        Case(np.ones(3))
    with pytest.raises(TypeError, match="reference must be the reference function"):
        make_exercise(reference=None)
    with pytest.raises(ValueError, match="has no cases"):
        make_exercise(cases=[]).grade(lambda x: x)


def test_the_demo_exercises_accept_their_solutions():
    from camlab.exercises import ex00

    namespace = {"np": np}
    for q in ex00.EXERCISES:
        exec(q.solution_source(), namespace)
        assert q.grade(namespace[q.func_name]).status == "correct", q.name
    with np.errstate(invalid="ignore"):
        zero_division = ex00.q2.grade(lambda cam: np.maximum(cam, 0) / np.maximum(cam, 0).max())
    assert zero_division.status == "incorrect" and "NaN" in zero_division.message


@pytest.mark.slow
def test_check_in_a_jupyter_kernel_finds_the_cells_function_and_shows_html(tmp_path):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from camlab.course import execute_notebook

    nb = new_notebook(cells=[
        new_code_cell("import numpy as np\nfrom camlab.exercises.ex00 import q1, q2"),
        new_code_cell("def clip01(x):\n    return np.clip(x, 0, 1)\nq1.check()"),
        new_code_cell("def normalize_map(cam):\n    raise NotImplementedError()\nr = q2.check()\nprint(r.status)"),
        new_code_cell("r"),  # a result asked for again, in a later cell, is shown again
    ])
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, str(path))
    done = execute_notebook(path, timeout=60, inplace=False)
    assert len(done.cells[1].outputs) == 1  # shown once: no Out[] repeating it
    correct = done.cells[1].outputs[0]
    assert correct.output_type == "display_data"
    assert correct.data["text/html"].startswith('<div style="color:#1a7f37"><b>Correct (public checks)</b>')
    stub = done.cells[2].outputs
    assert "<b>Not attempted (public checks)</b>" in stub[0].data["text/html"] and stub[1].text == "not_attempted\n"
    again = done.cells[3].outputs
    assert len(again) == 1 and "<b>Not attempted (public checks)</b>" in again[0].data["text/html"]


# ----------------------------------------------------------------------------------------------------------
# The run/judge boundary: plain data out of the kernel, one judge for q.check() and the grader.

def test_run_cases_returns_plain_data_and_judge_gives_the_same_verdict_as_grade():
    q = make_exercise()
    outputs = q.run_cases(lambda x: np.float32(2) * x)
    assert outputs["function"] == "defined" and [o["status"] for o in outputs["outcomes"]] == ["returned"] * 2
    assert type(outputs["outcomes"][0]["value"]) is np.ndarray
    assert q.judge(outputs) == q.grade(lambda x: 2 * x)
    assert q.run_cases(None) == {"function": "missing"}
    assert q.judge(q.run_cases(None)).status == "not_attempted"


class _AlwaysEqual:
    def __eq__(self, other):
        return True

    __hash__ = object.__hash__


def test_objects_with_their_own_equality_are_not_answers():
    q = make_exercise(compare=equal())
    result = q.grade(lambda x: _AlwaysEqual())
    assert result.status == "incorrect" and "the answer is _AlwaysEqual" in result.message
    assert "return numbers, strings, None, lists or NumPy arrays" in result.message
    assert q.grade(lambda x: np.array([_AlwaysEqual()] * len(x), dtype=object)).status == "incorrect"
    assert core.plain(np.int64(3)) == 3 and type(core.plain(np.int64(3))) is int
    assert core.plain(((1, [2.5]), {"a": None})) == ((1, [2.5]), {"a": None})
    with pytest.raises(core.NotPlainData, match="dtype object"):
        core.plain(np.array([None, 1], dtype=object))


def test_malformed_outputs_from_a_kernel_fail_closed():
    q = make_exercise()
    for outputs in (None, "correct", {"function": "defined"}, {"function": "defined", "outcomes": [None, 3]},
                    {"function": "defined", "outcomes": []}, {"status": "correct"}):
        result = q.judge(outputs)
        assert result.status in ("error", "incorrect"), outputs
    assert q.judge({"function": "defined", "outcomes": [{"status": "returned", "value": [2.0, 4.0]}]}).status \
        == "error"  # the second case gave no answer


def test_partial_credit_counts_the_cases_passed():
    q = make_exercise(cases=[Case((np.array([1.0]),)), Case((np.array([0.0]),)), Case((np.array([-1.0]),))])
    result = q.grade(lambda x: np.abs(x) * 2)
    assert (result.status, result.passed, result.total) == ("incorrect", 2, 3)
    assert result.message.startswith("On case 3 of 3")


# ----------------------------------------------------------------------------------------------------------
# Hidden cases: same generator, other seed; their inputs never appear in a message.

def _generated(seed=0):
    rng = np.random.default_rng(seed)
    return [Case((rng.normal(size=(2, 3)),), label=f"a random 2x3 array (seed {seed})") for _ in range(3)]


def test_hidden_cases_come_from_the_same_generator_with_the_instructors_seed():
    q = make_exercise(cases=_generated)
    assert q.has_hidden_cases and not make_exercise().has_hidden_cases
    public, hidden = q.cases, q.hidden_cases(1234)
    assert len(hidden) == 3 and not np.allclose(hidden[0].args[0], public[0].args[0])
    assert np.array_equal(q.hidden_cases(1234)[0].args[0], hidden[0].args[0])  # reproducible
    assert not np.allclose(q.hidden_cases(99)[0].args[0], hidden[0].args[0])
    assert make_exercise().hidden_cases(5) == []


def test_hard_coded_public_answers_fail_the_hidden_cases_without_showing_them():
    q = make_exercise(cases=_generated)
    answers = {c.args[0].tobytes(): c.expected.value for c in q.cases}
    hard_coded = lambda x: answers.get(np.asarray(x).tobytes(), np.zeros((2, 3)))
    assert q.grade(hard_coded).status == "correct"  # the public checks cannot tell
    hidden = q.hidden_cases(7)
    result = q.judge(q.run_cases(hard_coded, q.cases + hidden), q.cases + hidden, hidden=len(hidden),
                     scope="graded")
    assert (result.status, result.passed, result.total) == ("incorrect", 3, 6)
    assert result.message.startswith("On hidden case 1 of 3 (its input is not shown): your answer differs")
    assert "seed" not in result.message and "[" not in result.message
    good = q.judge(q.run_cases(lambda x: x * 2, q.cases + hidden), q.cases + hidden, hidden=3, scope="graded")
    assert good.message == "`double` passed all 3 public and 3 hidden cases." and str(good).startswith("Correct:")


# ----------------------------------------------------------------------------------------------------------
# Delegation: calling the exercise's reference is caught while the function runs.

import camlab.exercises.ex00 as _ex00  # noqa: E402
from camlab.exercises.ex00 import q1 as _demo_q1  # noqa: E402

_CAPTURED = _demo_q1.reference  # a reference taken at import time


def test_calling_the_reference_is_caught_directly_through_an_alias_or_captured_at_import():
    import types

    alias = _ex00._clip01
    copied = types.FunctionType(_ex00._clip01.__code__, _ex00.__dict__)  # the same code under another name
    for cheat in (lambda x: _ex00._clip01(x), lambda x: alias(x), lambda x: _CAPTURED(x), lambda x: copied(x)):
        result = _demo_q1.grade(cheat)
        assert result.status == "incorrect", result
        assert result.message == ("`clip01` calls camlab's own answer, `camlab.exercises.ex00._clip01`: write the "
                                  "computation yourself (its cases were not graded).")
        assert result.passed == 0


def test_delegation_in_a_thread_is_caught_and_the_watch_is_removed_afterwards():
    import sys
    import threading

    def in_a_thread(x):
        box = {}
        worker = threading.Thread(target=lambda: box.update(y=_CAPTURED(x)))
        worker.start()
        worker.join()
        return box["y"]

    assert _demo_q1.grade(in_a_thread).status == "incorrect"
    assert sys.getprofile() is None and threading.getprofile() is None
    assert _demo_q1.grade(lambda x: np.clip(x, 0, 1)).status == "correct"  # numpy's own clip is fine


def test_hint_and_solution_views_are_logged_with_whether_the_answer_was_correct_before(capsys):
    core.results_log(clear=True)
    q = make_exercise()
    q.hint()
    q.grade(lambda x: x * 2)
    q.solution()
    log = core.results_log(clear=True)
    assert [(e["event"], e.get("after_correct")) for e in log] == [("hint", False), ("check", None),
                                                                   ("solution", True)]


# ----------------------------------------------------------------------------------------------------------
# Staged hints and typical mistakes

def test_staged_hints_by_level_and_the_next_one_without_argument(capsys):
    core.results_log(clear=True)
    q = make_exercise(hint=["The idea: twice as much.", "The API: the * operator."])
    q.hint()
    q.hint()
    q.hint()  # after the last one, the last one again
    q.hint(1)
    out = capsys.readouterr().out.splitlines()
    assert out == ["Hint 1 of 2: The idea: twice as much.", "Hint 2 of 2: The API: the * operator.",
                   "Hint 2 of 2: The API: the * operator.", "Hint 1 of 2: The idea: twice as much."]
    q.hint()  # the next after hint(1)
    assert capsys.readouterr().out == "Hint 2 of 2: The API: the * operator.\n"
    log = core.results_log(clear=True)
    assert [(e["event"], e["level"]) for e in log] == [("hint", 1), ("hint", 2), ("hint", 2), ("hint", 1),
                                                       ("hint", 2)]
    for wrong in (0, 3, "1", True):
        with pytest.raises(ValueError, match=r"has 2 hints: call hint\(\) or hint\(n\) with n from 1 to 2"):
            q.hint(wrong)
    assert core.results_log() == []  # a refused level is not a view
    with pytest.raises(TypeError, match="hint must be"):
        make_exercise(hint=[])


def test_a_typical_mistake_is_named_in_the_verdict_and_the_first_matching_diagnosis_wins():
    def halve(x):
        return np.asarray(x, np.float64) / 2

    def boom(expected, got, case):
        raise RuntimeError("a diagnosis that cannot read the answer does not apply")

    q = make_exercise(mistakes=[(boom, "never shown"),
                                (core.gives(halve), "You divided by 2: multiply."),
                                (lambda expected, got, case: True, "shown only when nothing else fits")])
    result = q.grade(lambda x: np.asarray(x) / 2)
    assert result.status == "incorrect"
    assert result.message.startswith("On case 1 of 2, two numbers")
    assert result.message.endswith("You divided by 2: multiply.")
    assert q.grade(lambda x: x + 1).message.endswith("shown only when nothing else fits")
    assert q.grade(lambda x: x * 2).status == "correct"  # diagnoses only run on failing cases
    # gives() never fires when the typical wrong answer happens to be the expected one (a 7x7 zero map halves to 0)
    assert core.gives(halve)(np.zeros(3), np.zeros(3), Case((np.zeros(3),))) is False


def test_a_mistake_on_a_hidden_case_is_named_but_its_input_and_answers_are_not_shown():
    def cases(seed=0):
        return [Case((np.random.default_rng(seed).uniform(1, 2, 3),), label="three numbers")]

    def halve(x):
        return np.asarray(x) / 2

    q = make_exercise(cases=cases, mistakes=[(core.gives(halve), "You divided by 2: multiply.")])
    public = q.cases[0].args[0].tobytes()
    sneaky = lambda x: x * 2 if x.tobytes() == public else x / 2
    hidden = q.hidden_cases(5)
    result = q.judge(q.run_cases(sneaky, q.cases + hidden), q.cases + hidden, hidden=1, scope="graded")
    assert result.status == "incorrect"
    assert result.message == ("On hidden case 1 of 1 (its input is not shown): your answer differs from the "
                              "reference's. You divided by 2: multiply.")


def test_use_names_the_exercise_as_the_notebook_imports_it_and_the_reference_behind_a_lazy_lambda(capsys):
    from camlab.exercises import ex05, ex08

    assert "05" not in ex05.q2.name  # its title has no "q2": the module's attribute name is found instead
    assert ex05.q2._variable_name() == "q2"
    ex08.q1.use(fn=lambda model, item: None)
    assert capsys.readouterr().out.strip() == (
        "Using camlab's `camlab.cam.generate_cam` (your `generate_cam` has not passed `q1.check()` yet)")
