"""Grading a folder of submitted notebooks: ``python -m camlab grade SUBMISSIONS --out DIR [--key KEY]``.

For every notebook:

1. tell which course notebook it is (``submissions``): ``metadata.camlab.exercises`` (student notebooks carry
   it), else its ``from camlab.exercises.exNN import`` line, else a file name starting ``NN_``; only the course's
   exercise modules (the release key's, ``--course``, else every course notebook's) are graded;
2. put back the instructor's version of every locked cell (``locked``), copy it into a private temporary folder
   and run it there in a new kernel under limits (``kernels``): under bubblewrap a fresh fork of the learner's
   template, which has imported TensorFlow once (``zygote``), else a fresh kernel; the locked cells the course
   author tagged ``grading-skip`` are left out (a NameError on a name they define re-runs the notebook whole);
3. for each exercise, send the public and hidden case inputs into the kernel as plain data, call the learner's
   function there and read back only plain-data answers (``transport``); decide the verdict in this process
   against reference answers computed here (``judge``);
4. write ``results.csv``, ``gradebook.csv``, ``results.json`` and ``feedback/LEARNER.html`` (``report``).
   The submissions folder is only ever read.

An exercise gets ``correct``, ``incorrect`` (the judge's message), ``not_attempted`` or ``error`` (the exception,
or why the notebook could not be run: unreadable, time limit, memory, a dead kernel), with points (partial
credit: the share of cases passed).

Modules: ``submissions``, ``kernels``, ``zygote`` (warm kernels), ``sandbox``, ``transport``, ``judge``,
``locked``, ``key`` (the release key), ``report``, ``cli`` (the command).
"""
import importlib

# Names re-exported from the modules, loaded on first use: the learner's kernel imports only
# ``camlab.grading.transport``, and must not pay for nbformat and the rest.
_EXPORTS = {
    "grade_folder": "cli", "grade_learner": "cli", "main": "cli", "course_modules": "cli",
    "STATUS_RANK": "judge", "grade_notebook": "judge",
    "KERNEL_NAME": "kernels", "Limits": "kernels", "write_kernelspec": "kernels",
    "csv_cell": "report", "feedback_html": "report", "feedback_name": "report", "write_results": "report",
    "exercise_keys": "submissions", "find_submissions": "submissions", "identify": "submissions",
    "read_submission": "submissions", "read_key": "key", "restore_locked": "locked",
}


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"camlab.grading.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'camlab.grading' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_EXPORTS])
