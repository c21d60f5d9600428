"""Exercises for the notebooks: ``core`` holds the machinery, ``fixtures`` the shared case generators and tiny
models, ``ex01`` ... ``ex11`` one module per notebook, named by its number (``solutions.json``: their notebooks'
solution blocks).

``ex00`` is a two-exercise demonstration of the framework (used by the grading tests and the benchmark).
Each notebook module defines ``q1``, ``q2``, ... and ``EXERCISES = [q1, q2, ...]``.
"""
from camlab.exercises.core import Case, CheckResult, Exercise, box_close, close, equal, none_or  # noqa: F401
