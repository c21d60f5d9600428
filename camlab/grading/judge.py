"""One notebook's verdicts, decided in the grader's process.

The learner's notebook runs in a limited kernel (``kernels``). Then, for each exercise, the grader writes the case
inputs (public cases and hidden ones drawn from the instructor's seed) as plain data (``transport``), one cell
calls the learner's function on them in the kernel, and the answers come back as plain data. The grader computes
the reference answers itself and judges with the exercise's own ``judge``. Nothing the kernel prints, displays
or stores in the notebook is read: only answer files, which hold answers. A timeout, a dead kernel or a missing
answer gives ``error`` (a missing function ``not_attempted``), never ``correct``.
"""
from __future__ import annotations

import asyncio
import importlib
import re
import shutil
import tempfile
from pathlib import Path

from camlab.grading import sandbox
from camlab.grading.kernels import cell_error_text, run_in_kernel
from camlab.grading.locked import defined_names
from camlab.grading.submissions import read_submission
from camlab.grading.text import clip
from camlab.grading.transport import TransportError, read_data, write_data

STATUS_RANK = {"correct": 3, "incorrect": 2, "error": 1, "not_attempted": 0}


def exercise_cases(exercise, seed):
    """``(cases, number hidden)``: the public cases then the hidden ones for ``seed`` (None: none)."""
    hidden = exercise.hidden_cases(seed) if seed is not None else []
    return list(exercise.cases) + list(hidden), len(hidden)


def _serve_cell(module_name, attribute, folder):
    return (f"from camlab.grading.transport import serve as _camlab_serve\n"
            f"_camlab_serve({module_name!r}, {attribute!r}, {str(folder)!r}, globals())")


def _log_cell(folder):
    return f"from camlab.grading.transport import dump_log as _camlab_dump_log\n_camlab_dump_log({str(folder)!r})"


async def _check_in_kernel(nb, module_name, pairs, limits, kernels, work_dir, io_dir, seed, skip=()):
    module = importlib.import_module(module_name)
    answers, log, missing = {}, {}, set()

    async def after(execute):
        for attribute, func_name in pairs:
            exercise = getattr(module, attribute)
            folder = io_dir / attribute
            try:
                cases, hidden = exercise_cases(exercise, seed)
                write_data([[list(case.args), dict(case.kwargs)] for case in cases], folder / "in", models=True)
            except Exception as error:  # our own exercise could not be prepared: not the learner's fault
                answers[attribute] = {"status": "error", "message": clip(
                    f"the grader could not prepare the cases of `{func_name}`: {type(error).__name__}: {error}",
                    limits.message_chars)}
                continue
            cell, timed_out = await execute(_serve_cell(module_name, attribute, folder))
            try:
                outputs = read_data(folder / "out")
            except TransportError as error:
                if timed_out:
                    why = f"it ran past the {limits.cell_timeout} s time limit (an endless loop?)"
                elif not (folder / "out").exists():
                    why = cell_error_text(cell, limits.message_chars)
                else:
                    why = f"the answers were not plain data ({error})"
                answers[attribute] = {"status": "error", "message": clip(
                    f"checking `{func_name}` did not finish: {why}", limits.message_chars)}
                continue
            missing.update(_missing_names(outputs))
            result = exercise.judge(outputs, cases, hidden=hidden, scope="graded")
            answers[attribute] = {**result.to_dict(), "hidden": hidden}
        await execute(_log_cell(io_dir / "log"))
        try:
            log["entries"] = read_data(io_dir / "log")
        except TransportError:
            log["entries"] = None

    problems, errors, info = await run_in_kernel(nb, limits, kernels, work_dir, after, skip)
    for error in errors:
        found = _NAME_ERROR.search(error.get("error", ""))
        if found:
            missing.add(found.group(1))
    return answers, problems, errors, log.get("entries"), info, missing


_NAME_ERROR = re.compile(r"NameError: (?:free variable |name )'(\w+)'")


def _missing_names(outputs):
    """The names the learner's function missed (NameError) on some case."""
    found = set()
    if isinstance(outputs, dict) and isinstance(outputs.get("outcomes"), list):
        for outcome in outputs["outcomes"]:
            if isinstance(outcome, dict) and outcome.get("error") == "NameError":
                name = re.search(r"'(\w+)'", str(outcome.get("message", "")))
                if name:
                    found.add(name.group(1))
    return found


def views_before_correct(entries, pairs):
    """``{attribute: ["hint", "solution", ...]}``: the views the notebook's log shows before a correct check."""
    by_function = {func_name: attribute for attribute, func_name in pairs}
    views = {}
    for entry in entries or []:
        if not isinstance(entry, dict) or entry.get("event") not in ("hint", "solution"):
            continue
        attribute = by_function.get(entry.get("func_name"))
        if attribute and entry.get("after_correct") is False:
            views.setdefault(attribute, []).append(entry["event"])
    return views


def grade_notebook(path, module_name, pairs, limits, kernels, seed=None, nb=None, skip=()):
    """Grade one submitted notebook: ``{"results": {attribute: {...}}, "problems": [...], "errors": [...],
    "views": {attribute: [...]}, "kernel": {...}}``. ``seed``: the hidden cases' seed (None: public cases only);
    ``nb``: the notebook to run (default: the file at ``path``, read without trusting it); ``kernels``: a
    ``kernels.Kernels`` or a kernels folder.

    ``skip``: indices of cells not to run (``locked.skipped_cells``: the author's ``grading-skip`` cells). Fail
    safe: when a NameError (in a cell, or in the learner's function on a case) names a name that a skipped cell
    defines (or any name, when that cannot be told), the notebook is graded again with every cell run, and
    only that second run counts (``kernel.regraded`` says why)."""
    problem = None
    if nb is None:
        nb, problem = read_submission(path)
    if nb is None:
        message = f"the notebook could not be run: {problem}"
        return {"results": {a: {"status": "error", "message": message} for a, _ in pairs},
                "problems": [problem], "errors": [], "views": {}}
    work_root = Path(tempfile.mkdtemp(prefix=sandbox.temp_prefix("grade"), dir=getattr(kernels, "root", None)))
    try:
        work_dir, io_dir = work_root / "work", work_root / "io"
        work_dir.mkdir()
        io_dir.mkdir()
        shutil.copyfile(path, work_dir / Path(path).name)  # the learner's code sees only this copy around it
        skip = sorted(set(skip))
        answers, problems, errors, log, info, missing = asyncio.run(_check_in_kernel(
            nb, module_name, pairs, limits, kernels, work_dir, io_dir, seed, skip))
        info["skipped_cells"] = [nb.cells[i].get("id") for i in skip]
        if skip and missing:
            defined = defined_names(nb.cells[i].source for i in skip)
            names = sorted(missing) if defined is None else sorted(missing & defined)
            if names:
                for folder in (work_dir, io_dir):  # the second run starts from the same folders as the first
                    shutil.rmtree(folder, ignore_errors=True)
                    folder.mkdir()
                shutil.copyfile(path, work_dir / Path(path).name)
                answers, problems, errors, log, info, _ = asyncio.run(_check_in_kernel(
                    nb, module_name, pairs, limits, kernels, work_dir, io_dir, seed))
                info["skipped_cells"] = []
                info["regraded"] = (f"NameError on {', '.join(names)} (defined in a cell skipped for grading): "
                                    f"graded again with every cell run")
    finally:
        shutil.rmtree(work_root, ignore_errors=True)
    reason = "; ".join(problems) or "no answer came back"
    results = {}
    for attribute, func_name in pairs:
        results[attribute] = answers.get(attribute) or {
            "status": "error", "message": clip(f"`{func_name}` was not checked: {reason}", limits.message_chars)}
        results[attribute]["message"] = clip(str(results[attribute].get("message", "")), limits.message_chars)
    return {"results": results, "problems": problems, "errors": errors[:20], "views": views_before_correct(log, pairs),
            "kernel": info}
