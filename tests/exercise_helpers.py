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


def reference_status(exercise):
    """The verdict on the reference itself (not watched for delegation: it IS the answer)."""
    return exercise.judge(run_cases(exercise.reference, exercise.cases)).status


def stub(*args, **kwargs):
    """An untouched exercise cell."""
    raise NotImplementedError()


def check_reference_and_solution(exercise, **namespace):
    assert reference_status(exercise) == "correct"
    assert status(exercise, solution_function(exercise, **namespace)) == "correct"


def check_stub_not_attempted(exercise):
    assert status(exercise, stub) == "not_attempted"
    assert status(exercise, None) == "not_attempted"
