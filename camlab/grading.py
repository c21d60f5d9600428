"""Grading a folder of submitted notebooks, safely: ``python -m camlab grade SUBMISSIONS --out DIR``.

SUBMISSIONS holds one folder per learner (named after the learner, notebooks inside under any names), or a flat
folder of notebooks (the learner is then the file name). For every notebook:

1. tell which course notebook it is: ``metadata.camlab.exercises`` (student notebooks carry it), else its
   ``from camlab.exercises.exNN import`` line, else a file name starting ``NN_``;
2. copy it into a private temporary folder and run it there in a fresh kernel (errors do not stop the run) with a
   per-cell and a per-notebook time limit, an address-space (memory) limit on the kernel process, and output kept
   only up to a cap;
3. in the same kernel, check each exercise's function with the same checker the learner ran
   (``q.grade(namespace=globals())``), one cell per exercise; each prints one JSON line behind a random per-run
   marker, which is all the grader reads back.

An exercise gets ``correct``, ``incorrect`` (the checker's message), ``not_attempted`` or ``error`` (the exception,
or why the notebook could not be run: unreadable, time limit, memory, a dead kernel). Output: ``results.csv``,
``results.json`` and ``feedback/LEARNER.html``. The submissions folder is only ever read.

Grading runs the learners' code with your permissions: the limits stop accidents, not attackers. See the
instructor README (``python -m camlab release``) for stronger isolation.
"""
from __future__ import annotations

import asyncio
import atexit
import csv
import html
import importlib
import importlib.util
import json
import math
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat

from camlab import cli, course

STATUS_RANK = {"correct": 3, "incorrect": 2, "error": 1, "not_attempted": 0}
MODULE_NAME = re.compile(r"^camlab\.exercises\.ex\d{2,3}$")  # the only modules a submission may name
IMPORT_LINE = re.compile(r"^\s*(?:from\s+(camlab\.exercises\.ex\d{2,3})\s+import\b|import\s+(camlab\.exercises\.ex\d{2,3})\b)",
                         re.MULTILINE)
FILE_NUMBER = re.compile(r"^(\d{2})(?:[_\- .]|$)")
KERNEL_NAME = "camlab-grader"


@dataclass
class Limits:
    """What one notebook may use. Seconds, megabytes, characters."""

    cell_timeout: int = 120
    timeout: int = 1800
    memory_mb: int = 8192
    file_mb: int = 1024
    output_chars: int = 100_000
    message_chars: int = 1000


# --------------------------------------------------------------------------------------------------------------
# Finding and identifying submissions.

def find_submissions(root):
    """``{learner: [notebook paths]}``: one folder per learner, or notebooks at the top (learner = file stem)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder of submissions; give the folder that holds one folder "
                                f"per learner (or the learners' notebooks).")
    learners = {}
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            notebooks = sorted(p for p in entry.rglob("*.ipynb")
                               if p.is_file() and not p.is_symlink() and ".ipynb_checkpoints" not in p.parts)
            learners.setdefault(entry.name, []).extend(notebooks)
        elif entry.suffix == ".ipynb" and entry.is_file() and not entry.is_symlink():
            learners.setdefault(entry.stem, []).append(entry)
    return learners


MAX_NOTEBOOK_MB = 100


def read_submission(path):
    """``(notebook or None, problem or None)``: a learner's file, read without trusting it."""
    size = Path(path).stat().st_size
    if size > MAX_NOTEBOOK_MB * 2**20:
        return None, f"the file is {size / 2**20:.0f} MB, more than a notebook needs ({MAX_NOTEBOOK_MB} MB at most)"
    data = Path(path).read_bytes()
    if not data.strip():
        return None, "the file is empty"
    try:
        return nbformat.reads(data.decode("utf-8", errors="replace"), as_version=4), None
    except Exception as error:  # not JSON, not a notebook, an unknown version...
        return None, f"not a readable notebook ({type(error).__name__}: {_clip(str(error), 200)})"


def identify(path, nb):
    """The exercises module of a submission (``camlab.exercises.exNN``) or None, and how it was found."""
    meta = nb.metadata.get("camlab", {}) if nb is not None else {}
    module = meta.get("exercises") if isinstance(meta, dict) else None
    if isinstance(module, str) and MODULE_NAME.match(module) and _module_exists(module):
        return module, "metadata"
    if nb is not None:
        for cell in nb.cells:
            if cell.get("cell_type") == "code" and isinstance(cell.get("source"), str):
                for match in IMPORT_LINE.finditer(cell.source):
                    found = match.group(1) or match.group(2)
                    if _module_exists(found):
                        return found, "import line"
    number = FILE_NUMBER.match(Path(path).name)
    if number and _module_exists(f"camlab.exercises.ex{number.group(1)}"):
        return f"camlab.exercises.ex{number.group(1)}", "file name"
    return None, None


def _module_exists(name):
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def exercise_keys(module_name):
    """``(notebook id, [(attribute, func_name), ...])`` for an exercises module (ours, so safe to import)."""
    module = importlib.import_module(module_name)
    named = {id(value): name for name, value in vars(module).items() if not name.startswith("_")}
    pairs = []
    for number, exercise in enumerate(getattr(module, "EXERCISES", []), 1):
        attribute = named.get(id(exercise), f"q{number}")
        pairs.append((attribute if attribute != "EXERCISES" else f"q{number}", exercise.func_name))
    return _notebook_id(module_name, module), pairs


def _notebook_id(module_name, module):
    """The course notebook's id for column names: the solution notebooks' metadata, else ``NOTEBOOK``, else exNN."""
    for path in course.course_notebooks():
        try:
            meta = course.read_notebook(path).metadata.get("camlab", {})
        except Exception:  # an author's half-saved notebook must not stop grading
            continue
        if meta.get("exercises") == module_name and meta.get("id"):
            return str(meta["id"])
    return str(getattr(module, "NOTEBOOK", module_name.rsplit(".", 1)[-1]))


# --------------------------------------------------------------------------------------------------------------
# Running one notebook in a limited kernel.

def write_kernelspec(folder, limits):
    """A kernelspec running this Python's IPython kernel under ``limits``; returns the kernels folder."""
    return course.write_kernelspec(folder, KERNEL_NAME, memory_mb=limits.memory_mb, file_mb=limits.file_mb,
                                   env={"MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1", "CAMLAB_GRADING": "1"})


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


def _client_class():
    from nbclient import NotebookClient

    class CappedClient(NotebookClient):
        """nbclient's client keeping at most ``output_chars`` characters of output per cell."""

        output_chars = 100_000

        def output(self, outs, msg, display_id, cell_index):
            kept = getattr(self, "_kept", {})
            self._kept = kept
            size = len(json.dumps(msg.get("content", {}), default=str))
            if kept.get(cell_index, 0) + size > self.output_chars:
                self.truncated_cells.add(cell_index)
                return None
            kept[cell_index] = kept.get(cell_index, 0) + size
            return super().output(outs, msg, display_id, cell_index)

    return CappedClient


async def _run_notebook(nb, module_name, pairs, limits, kernels_dir, work_dir):
    """Run ``nb`` then its checkers; returns ``({attribute: result dict}, problems, errors in the learner's cells)``."""
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpecManager
    from nbclient.exceptions import DeadKernelError

    nonce = "CAMLAB-" + secrets.token_hex(16) + ":"
    problems, errors, answers = [], [], {}
    learner_cells = len(nb.cells)
    state = {"timeout": limits.cell_timeout, "timed_out": set(), "cut": False}

    def on_cell_error(cell, cell_index, execute_reply):
        content = execute_reply.get("content", {})
        if content.get("ename") == "CamlabTimeLimit":
            state["timed_out"].add(cell_index)
            text = (f"stopped: the notebook's time limit ({limits.timeout} s) was reached" if state["cut"] else
                    f"stopped after {state['timeout']} s (time limit)")
        else:
            text = f"{content.get('ename', 'Error')}: {content.get('evalue', '')}"
        if cell_index < learner_cells:
            errors.append({"cell": cell_index, "error": _clip(text, limits.message_chars)})

    km = AsyncKernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels_dir)]))
    client = _client_class()(
        nb, km=km, timeout=limits.cell_timeout, timeout_func=lambda cell: state["timeout"], allow_errors=True,
        interrupt_on_timeout=True, error_on_timeout={"ename": "CamlabTimeLimit", "evalue": "time limit"},
        on_cell_error=on_cell_error, record_timing=False, shutdown_kernel="immediate", startup_timeout=60,
        resources={"metadata": {"path": str(work_dir)}})
    client.output_chars = limits.output_chars
    client.truncated_cells = set()
    phase = "starting the kernel"
    try:
        # the kernel process's own stdout/stderr (C-level prints, its start-up warnings) go nowhere
        async with client.async_setup_kernel(cleanup_kc=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
            deadline = time.monotonic() + limits.timeout
            phase = "running the notebook"
            for index, cell in enumerate(list(nb.cells)):
                if cell.get("cell_type") != "code":
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    problems.append(f"the notebook's time limit ({limits.timeout} s) was reached at cell {index}; "
                                    f"the remaining cells were not run")
                    break
                state["cut"] = left < limits.cell_timeout  # this cell gets only what is left of the notebook's time
                state["timeout"] = max(1, math.ceil(min(limits.cell_timeout, left)))
                phase = f"running cell {index} of the notebook"
                await client.async_execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
                if state["cut"] and index in state["timed_out"]:
                    problems.append(f"the notebook's time limit ({limits.timeout} s) was reached at cell {index}; "
                                    f"the remaining cells were not run")
                    break
            phase = "checking the exercises"  # (the learner's functions run here)
            state["timeout"], state["cut"] = limits.cell_timeout, False
            sources = _grading_cells(module_name, pairs, nonce)
            start = len(nb.cells)
            nb.cells.extend(nbformat.v4.new_code_cell(source) for source in sources)
            setup_ok = False
            for offset, source in enumerate(sources):
                cell = nb.cells[start + offset]
                await client.async_execute_cell(cell, start + offset, execution_count=client.code_cells_executed + 1)
                for record in _records(cell, nonce):
                    if record.get("setup") == "ok":
                        setup_ok = True
                    elif record.get("key") in dict(pairs):
                        answers[record["key"]] = {"status": record.get("status"), "message": record.get("message", "")}
                if offset == 0 and not setup_ok:
                    problems.append(f"could not import {module_name} in the kernel: "
                                    f"{_cell_error_text(cell, limits.message_chars)}")
                    break
                if offset > 0 and pairs[offset - 1][0] not in answers:
                    attribute, func_name = pairs[offset - 1]
                    why = (f"it ran past the {limits.cell_timeout} s time limit (an endless loop?)"
                           if start + offset in state["timed_out"] else _cell_error_text(cell, limits.message_chars))
                    answers[attribute] = {"status": "error", "message": _clip(
                        f"checking `{func_name}` did not finish: {why}", limits.message_chars)}
    except DeadKernelError:
        problems.append(f"the kernel died while {phase} (out of memory, a crash, or os._exit?)")
    except Exception as error:  # kernel start-up failures and the like: report, never stop the whole run
        hint = f" (is --memory-mb {limits.memory_mb} too small for a kernel?)" if phase == "starting the kernel" else ""
        problems.append(f"failed while {phase}: {type(error).__name__}: {_clip(str(error), 300)}{hint}")
    finally:
        atexit.unregister(client._cleanup_kernel)  # nbclient leaves it registered when the kernel never started
        try:
            if km.has_kernel:
                await km.shutdown_kernel(now=True)
        except Exception:  # already gone
            pass
    del nb.cells[learner_cells:]
    for index in sorted(client.truncated_cells):
        if index < learner_cells:
            problems.append(f"cell {index} printed more than {limits.output_chars} characters; the rest was dropped")
    return answers, problems, errors


def _records(cell, nonce):
    """The JSON records a grading cell printed behind ``nonce`` (stdout may arrive in several pieces)."""
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


def _cell_error_text(cell, limit):
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return _clip(f"{output.get('ename')}: {output.get('evalue')}", limit)
    return "no answer came back (time limit, or the kernel stopped)"


def grade_notebook(path, module_name, pairs, limits, kernels_dir):
    """Grade one submitted notebook: ``{"results": {attribute: {...}}, "problems": [...], "errors": [...]}``."""
    nb, problem = read_submission(path)
    if nb is None:
        message = f"the notebook could not be run: {problem}"
        return {"results": {a: {"status": "error", "message": message} for a, _ in pairs},
                "problems": [problem], "errors": []}
    work_root = Path(tempfile.mkdtemp(prefix="camlab-grade-"))
    try:
        work_dir = work_root / "work"
        work_dir.mkdir()
        shutil.copyfile(path, work_dir / Path(path).name)  # the learner's code sees only this copy around it
        answers, problems, errors = asyncio.run(_run_notebook(nb, module_name, pairs, limits, kernels_dir, work_dir))
    finally:
        shutil.rmtree(work_root, ignore_errors=True)
    reason = "; ".join(problems) or "no answer came back"
    results = {}
    for attribute, func_name in pairs:
        results[attribute] = answers.get(attribute) or {
            "status": "error", "message": _clip(f"`{func_name}` was not checked: {reason}", limits.message_chars)}
        results[attribute]["message"] = _clip(str(results[attribute].get("message", "")), limits.message_chars)
        if results[attribute].get("status") not in STATUS_RANK:
            results[attribute] = {"status": "error", "message": "the checker gave no valid verdict"}
    return {"results": results, "problems": problems, "errors": errors[:20]}


def _clip(text, limit):
    text = str(text)
    return text if len(text) <= limit else text[: limit - 15] + " ... (truncated)"


# --------------------------------------------------------------------------------------------------------------
# One learner (the unit of parallel work), then the whole folder.

def grade_learner(learner, notebooks, catalog, limits, root):
    """Grade every notebook of one learner. ``notebooks``: ``[(path, module or None, how, problem)]``."""
    kernels_dir = Path(tempfile.mkdtemp(prefix="camlab-kernels-"))
    try:
        write_kernelspec(kernels_dir, limits)
        per_notebook = []
        for path, module_name, how, problem in notebooks:
            entry = {"file": Path(path).relative_to(root).as_posix(), "module": module_name, "identified_by": how}
            if module_name is None:
                entry.update(results={}, errors=[], problems=[problem or (
                    "could not tell which course notebook this is (no camlab metadata, no `from camlab.exercises."
                    "exNN import` line, no NN_ file name); it was not run")])
            else:
                notebook_id, pairs = catalog[module_name]
                entry["id"] = notebook_id
                entry.update(grade_notebook(path, module_name, pairs, limits, kernels_dir))
            per_notebook.append(entry)
    finally:
        shutil.rmtree(kernels_dir, ignore_errors=True)
    return learner, per_notebook


def _summarize(learner_notebooks, columns, catalog):
    """Per column, the best verdict over the learner's notebooks for that part."""
    results = {}
    for entry in learner_notebooks:
        if not entry.get("module"):
            continue
        notebook_id = catalog[entry["module"]][0]
        for attribute, verdict in entry["results"].items():
            key = f"{notebook_id}:{attribute}"
            verdict = {**verdict, "notebook": entry["file"]}
            if key not in results or STATUS_RANK[verdict["status"]] > STATUS_RANK[results[key]["status"]]:
                results[key] = verdict
    unused = "; ".join(f"{entry['file']}: {'; '.join(entry['problems'])}"
                       for entry in learner_notebooks if not entry.get("module"))
    for key in columns:
        results.setdefault(key, {"status": "not_attempted", "notebook": None, "message": _clip(
            f"no notebook for {key.split(':')[0]} was submitted" + (f" (not graded: {unused})" if unused else ""),
            1000)})
    correct = sum(results[key]["status"] == "correct" for key in columns)
    return {"results": {key: results[key] for key in columns}, "correct": correct,
            "total": f"{correct}/{len(columns)}", "score": round(correct / len(columns), 4) if columns else 0.0}


def grade_folder(submissions, out_dir, jobs=1, limits=None, show_progress=True):
    """Grade every learner in ``submissions``; write results.csv, results.json and feedback pages to ``out_dir``."""
    from camlab._progress import progress

    limits = limits or Limits()
    submissions, out_dir = Path(submissions).resolve(), Path(out_dir).resolve()
    if out_dir == submissions or submissions in out_dir.parents:
        raise ValueError(f"--out {out_dir} is inside the submissions folder, which grading never writes to; "
                         f"choose a folder outside it.")
    learners = find_submissions(submissions)
    plan, catalog = {}, {}
    for learner, paths in learners.items():
        plan[learner] = []
        for path in paths:
            nb, problem = read_submission(path)
            module_name, how = identify(path, nb)
            meta = nb.metadata.get("camlab") if nb is not None else None
            if module_name is None and problem is None and isinstance(meta, dict) and meta.get("id"):
                problem = f"course notebook {_clip(meta['id'], 40)!r} has no exercises to grade; it was not run"
            if module_name and module_name not in catalog:
                catalog[module_name] = exercise_keys(module_name)
            plan[learner].append((str(path), module_name, how, problem))
    columns = [f"{catalog[m][0]}:{attribute}" for m in sorted(catalog, key=lambda m: catalog[m][0])
               for attribute, _ in catalog[m][1]]

    graded = {}
    bar = progress(total=len(plan), desc="grading", unit="learner", disable=None if show_progress else True)
    try:
        if jobs <= 1 or len(plan) <= 1:
            for learner, notebooks in plan.items():
                graded[learner] = grade_learner(learner, notebooks, catalog, limits, submissions)[1]
                bar.update(1)
        else:
            # threads are enough: each one only waits on its own kernel (a separate process) through its own
            # event loop; the learners' code never runs in this process
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                futures = [pool.submit(grade_learner, learner, notebooks, catalog, limits, submissions)
                           for learner, notebooks in plan.items()]
                for future in as_completed(futures):
                    learner, per_notebook = future.result()
                    graded[learner] = per_notebook
                    bar.update(1)
    finally:
        bar.close()

    report = {"exercises": columns, "limits": asdict(limits), "learners": {}}
    for learner in sorted(graded):
        report["learners"][learner] = {**_summarize(graded[learner], columns, catalog), "notebooks": graded[learner]}
    write_results(report, out_dir)
    return report


# --------------------------------------------------------------------------------------------------------------
# Writing the results.

def _cell_text(value):
    """A CSV cell that a spreadsheet will not read as a formula."""
    value = str(value)
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def feedback_name(learner, taken):
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", learner).strip("._") or "learner"
    name, number = base, 2
    while name.lower() in taken:
        name, number = f"{base}_{number}", number + 1
    taken.add(name.lower())
    return f"{name}.html"


def write_results(report, out_dir):
    out_dir = Path(out_dir)
    (out_dir / "feedback").mkdir(parents=True, exist_ok=True)
    columns = report["exercises"]
    with open(out_dir / "results.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["learner", *columns, "total", "score"])
        for learner, summary in report["learners"].items():
            writer.writerow([_cell_text(learner), *(summary["results"][c]["status"] for c in columns),
                             summary["total"], summary["score"]])
    taken = set()
    for learner, summary in report["learners"].items():
        summary["feedback"] = "feedback/" + feedback_name(learner, taken)
        (out_dir / summary["feedback"]).write_text(feedback_html(learner, summary), encoding="utf-8")
    (out_dir / "results.json").write_text(json.dumps(report, indent=1, sort_keys=True, ensure_ascii=False),
                                          encoding="utf-8")


_COLOURS = {"correct": "#1a7f37", "incorrect": "#cf222e", "not_attempted": "#9a6700", "error": "#cf222e"}


def feedback_html(learner, summary):
    """One learner's feedback page. Everything that came from a submission is escaped."""
    e = html.escape
    rows = "\n".join(
        f'<tr><td>{e(key)}</td><td style="color:{_COLOURS[v["status"]]}"><b>{e(v["status"].replace("_", " "))}</b>'
        f'</td><td>{e(v.get("message", ""))}</td></tr>' for key, v in summary["results"].items())
    notes = []
    for entry in summary["notebooks"]:
        items = [f"<li>{e(p)}</li>" for p in entry.get("problems", [])]
        items += [f"<li>cell {int(x['cell'])}: {e(x['error'])}</li>" for x in entry.get("errors", [])]
        if items:
            notes.append(f"<h3>{e(entry['file'])}</h3><ul>{''.join(items)}</ul>")
    return (f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>camlab feedback: {e(learner)}</title>'
            f"<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}td{{padding:.3em .8em;"
            f"vertical-align:top;border-bottom:1px solid #ddd}}</style></head><body>\n"
            f"<h1>Feedback for {e(learner)}</h1>\n<p>{e(summary['total'])} exercises correct.</p>\n"
            f"<table><tr><th>exercise</th><th>result</th><th>details</th></tr>\n{rows}\n</table>\n"
            f"{''.join(notes)}\n</body></html>\n")


# --------------------------------------------------------------------------------------------------------------

@cli.command("grade")
def main(argv=None):
    """``python -m camlab grade SUBMISSIONS --out DIR [--jobs N] [--cell-timeout S] [--timeout S] [--memory-mb M]``."""
    defaults = Limits()
    parser = cli.parser("grade", description=(
        "Grade a folder of submitted notebooks (one folder per learner). Runs the learners' code: each notebook "
        "runs from a private copy in a fresh kernel under time and memory limits."))
    parser.add_argument("submissions", type=Path, help="folder with one folder of notebooks per learner")
    parser.add_argument("--out", type=Path, required=True, help="folder for results.csv, results.json, feedback/")
    parser.add_argument("--jobs", type=cli.positive_int, default=1, help="learners graded at the same time (default 1)")
    parser.add_argument("--cell-timeout", type=cli.positive_int, default=defaults.cell_timeout,
                        help=f"seconds per cell (default {defaults.cell_timeout})")
    parser.add_argument("--timeout", type=cli.positive_int, default=defaults.timeout,
                        help=f"seconds per notebook, checks excluded (default {defaults.timeout})")
    parser.add_argument("--memory-mb", type=cli.nonnegative_int, default=defaults.memory_mb,
                        help=f"address-space limit of each kernel in MB, 0 for none (default {defaults.memory_mb})")
    args = parser.parse_args(argv)
    limits = Limits(cell_timeout=args.cell_timeout, timeout=args.timeout, memory_mb=args.memory_mb)
    try:
        report = grade_folder(args.submissions, args.out, jobs=args.jobs, limits=limits)
    except (FileNotFoundError, ValueError) as error:
        raise cli.CommandError(error) from error
    print(f"graded {len(report['learners'])} learners on {len(report['exercises'])} exercises; "
          f"results in {args.out / 'results.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
