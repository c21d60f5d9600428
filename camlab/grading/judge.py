"""One notebook's verdicts: run it in a limited kernel, then check each exercise's function."""
from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import tempfile
from pathlib import Path

from camlab.grading import sandbox
from camlab.grading.kernels import cell_error_text, run_in_kernel
from camlab.grading.submissions import read_submission
from camlab.grading.text import clip

STATUS_RANK = {"correct": 3, "incorrect": 2, "error": 1, "not_attempted": 0}


def _grading_cells(module_name, pairs, nonce):
    """Source of the cells run after the notebook: import the checkers, then one cell per exercise."""
    setup = (f"import importlib as _camlab_importlib, json as _camlab_json, os as _camlab_os, "
             f"contextlib as _camlab_contextlib\n"
             f"_camlab_module = _camlab_importlib.import_module({module_name!r})\n"
             f"print({nonce!r} + _camlab_json.dumps({{'setup': 'ok'}}))")
    cells = [setup]
    for attribute, _ in pairs:
        cells.append(
            f"with open(_camlab_os.devnull, 'w') as _camlab_sink, _camlab_contextlib.redirect_stdout(_camlab_sink), "
            f"_camlab_contextlib.redirect_stderr(_camlab_sink):\n"
            f"    try:\n"
            f"        _camlab_result = _camlab_module.{attribute}.grade(namespace=globals()).to_dict()\n"
            f"    except Exception as _camlab_error:\n"
            f"        _camlab_result = {{'status': 'error', 'message': 'the checker could not run: ' + "
            f"type(_camlab_error).__name__ + ': ' + str(_camlab_error)}}\n"
            f"print({nonce!r} + _camlab_json.dumps({{'key': {attribute!r}, **_camlab_result}}))")
    return cells


def _records(cell, nonce):
    text = "".join(output.get("text", "") for output in cell.get("outputs", [])
                   if output.get("output_type") == "stream" and output.get("name") == "stdout")
    for line in text.splitlines():
        if line.startswith(nonce):
            try:
                record = json.loads(line[len(nonce):])
            except ValueError:
                continue
            if isinstance(record, dict):
                yield record


async def _check_in_kernel(nb, module_name, pairs, limits, kernels_dir, work_dir):
    nonce = "CAMLAB-" + secrets.token_hex(16) + ":"
    answers, setup_problem = {}, []

    async def after(execute):
        sources = _grading_cells(module_name, pairs, nonce)
        cell, _ = await execute(sources[0])
        if not any(r.get("setup") == "ok" for r in _records(cell, nonce)):
            setup_problem.append(f"could not import {module_name} in the kernel: "
                                 f"{cell_error_text(cell, limits.message_chars)}")
            return
        for (attribute, func_name), source in zip(pairs, sources[1:]):
            cell, timed_out = await execute(source)
            for record in _records(cell, nonce):
                if record.get("key") == attribute:
                    answers[attribute] = {"status": record.get("status"), "message": record.get("message", "")}
            if attribute not in answers:
                why = (f"it ran past the {limits.cell_timeout} s time limit (an endless loop?)"
                       if timed_out else cell_error_text(cell, limits.message_chars))
                answers[attribute] = {"status": "error", "message": clip(
                    f"checking `{func_name}` did not finish: {why}", limits.message_chars)}

    problems, errors = await run_in_kernel(nb, limits, kernels_dir, work_dir, after)
    return answers, setup_problem + problems, errors


def grade_notebook(path, module_name, pairs, limits, kernels_dir):
    """Grade one submitted notebook: ``{"results": {attribute: {...}}, "problems": [...], "errors": [...]}``."""
    nb, problem = read_submission(path)
    if nb is None:
        message = f"the notebook could not be run: {problem}"
        return {"results": {a: {"status": "error", "message": message} for a, _ in pairs},
                "problems": [problem], "errors": []}
    work_root = Path(tempfile.mkdtemp(prefix=sandbox.temp_prefix("grade")))
    try:
        work_dir = work_root / "work"
        work_dir.mkdir()
        shutil.copyfile(path, work_dir / Path(path).name)  # the learner's code sees only this copy around it
        answers, problems, errors = asyncio.run(_check_in_kernel(nb, module_name, pairs, limits, kernels_dir,
                                                                 work_dir))
    finally:
        shutil.rmtree(work_root, ignore_errors=True)
    reason = "; ".join(problems) or "no answer came back"
    results = {}
    for attribute, func_name in pairs:
        results[attribute] = answers.get(attribute) or {
            "status": "error", "message": clip(f"`{func_name}` was not checked: {reason}", limits.message_chars)}
        results[attribute]["message"] = clip(str(results[attribute].get("message", "")), limits.message_chars)
        if results[attribute].get("status") not in STATUS_RANK:
            results[attribute] = {"status": "error", "message": "the checker gave no valid verdict"}
    return {"results": results, "problems": problems, "errors": errors[:20]}
