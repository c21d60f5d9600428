"""Grading a folder of submitted notebooks, safely: ``python -m camlab grade SUBMISSIONS --out DIR``.

For every notebook:

1. tell which course notebook it is (``submissions``): ``metadata.camlab.exercises`` (student notebooks carry
   it), else its ``from camlab.exercises.exNN import`` line, else a file name starting ``NN_``;
2. copy it into a private temporary folder and run it there in a fresh kernel under limits (``kernels``):
   a per-cell and a per-notebook time limit, a memory limit, output kept only up to a cap;
3. check each exercise's function (``judge``); write ``results.csv``, ``results.json`` and
   ``feedback/LEARNER.html`` (``report``). The submissions folder is only ever read.

An exercise gets ``correct``, ``incorrect`` (the checker's message), ``not_attempted`` or ``error`` (the exception,
or why the notebook could not be run: unreadable, time limit, memory, a dead kernel).

Modules: ``submissions`` (finding and identifying notebooks), ``kernels`` (limited kernels), ``transport`` (plain
data in and out of a kernel), ``judge`` (verdicts), ``report`` (results files), ``cli`` (the command).
"""
from camlab.grading.cli import grade_folder, grade_learner, main  # noqa: F401
from camlab.grading.judge import STATUS_RANK, grade_notebook  # noqa: F401
from camlab.grading.kernels import KERNEL_NAME, Limits, write_kernelspec  # noqa: F401
from camlab.grading.report import csv_cell, feedback_html, feedback_name, write_results  # noqa: F401
from camlab.grading.submissions import exercise_keys, find_submissions, identify, read_submission  # noqa: F401
