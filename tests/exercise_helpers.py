"""Shared checks for the exercise modules' tests (``tests/test_exNN.py``)."""
import numpy as np

from camlab.exercises.core import run_cases


def solution_function(exercise, **namespace):
    """The learner-facing solution text of ``exercise``, run as a notebook would run it (NumPy as ``np`` plus
    ``namespace``); returns the function it defines."""
    namespace.setdefault("np", np)
    exec(exercise.solution_source(), namespace)
    return namespace[exercise.func_name]


def status(exercise, fn):
    return exercise.grade(fn).status


def unwatched_status(exercise, fn):
    """The verdict on ``fn`` without the watch for calls to the reference (for functions built on it on purpose)."""
    return exercise.judge(run_cases(fn, exercise.cases)).status


def reference_status(exercise):
    """The verdict on the reference itself (not watched for delegation: it IS the answer)."""
    return unwatched_status(exercise, exercise.reference)


def check_reference_is_delegation(exercise, fn):
    """Handing in camlab's own function is caught, naming it."""
    result = exercise.grade(fn)
    assert result.status == "incorrect" and "calls camlab's own answer" in result.message, result


def stub(*args, **kwargs):
    """An untouched exercise cell."""
    raise NotImplementedError()


def check_reference_and_solution(exercise, **namespace):
    assert reference_status(exercise) == "correct"
    assert status(exercise, solution_function(exercise, **namespace)) == "correct"


def check_stub_not_attempted(exercise):
    assert status(exercise, stub) == "not_attempted"
    assert status(exercise, None) == "not_attempted"


def graded(exercise, fn, seed):
    """The grader's verdict: public and hidden cases (drawn with the instructor's ``seed``) run as in a kernel, then
    judged with the hidden count, as ``camlab grade`` does."""
    from camlab.grading.judge import exercise_cases

    cases, hidden = exercise_cases(exercise, seed)
    assert hidden > 0, f"{exercise.name} has no hidden cases"
    return exercise.judge(run_cases(fn, cases, exercise.forbidden), cases, hidden=hidden, scope="graded")
