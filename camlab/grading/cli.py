"""``python -m camlab grade SUBMISSIONS --out DIR``: grade every learner's notebooks, a few learners at a time.

SUBMISSIONS holds one folder per learner (named after the learner, notebooks inside under any names), or a flat
folder of notebooks (the learner is then the file name). See ``camlab.grading`` for what happens to each notebook.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict
from pathlib import Path

from camlab.grading.judge import grade_notebook
from camlab.grading.kernels import Limits, grader_kernelspec
from camlab.grading.report import summarize, write_results
from camlab.grading.submissions import exercise_keys, find_submissions, identify, read_submission
from camlab.grading.text import clip


def grade_learner(learner, notebooks, catalog, limits, root):
    """Grade every notebook of one learner. ``notebooks``: ``[(path, module or None, how, problem)]``."""
    kernels_dir = Path(tempfile.mkdtemp(prefix="camlab-kernels-"))
    try:
        grader_kernelspec(kernels_dir, limits)
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
                problem = f"course notebook {clip(meta['id'], 40)!r} has no exercises to grade; it was not run"
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
        report["learners"][learner] = {**summarize(graded[learner], columns, catalog), "notebooks": graded[learner]}
    write_results(report, out_dir)
    return report


def main(argv=None):
    """``python -m camlab grade SUBMISSIONS --out DIR [--jobs N] [--cell-timeout S] [--timeout S] [--memory-mb M]``."""
    defaults = Limits()
    parser = argparse.ArgumentParser(prog="python -m camlab grade", description=(
        "Grade a folder of submitted notebooks (one folder per learner). Runs the learners' code: each notebook "
        "runs from a private copy in a fresh kernel under time and memory limits."))
    parser.add_argument("submissions", type=Path, help="folder with one folder of notebooks per learner")
    parser.add_argument("--out", type=Path, required=True, help="folder for results.csv, results.json, feedback/")
    parser.add_argument("--jobs", type=int, default=1, help="learners graded at the same time (default 1)")
    parser.add_argument("--cell-timeout", type=int, default=defaults.cell_timeout,
                        help=f"seconds per cell (default {defaults.cell_timeout})")
    parser.add_argument("--timeout", type=int, default=defaults.timeout,
                        help=f"seconds per notebook, checks excluded (default {defaults.timeout})")
    parser.add_argument("--memory-mb", type=int, default=defaults.memory_mb,
                        help=f"address-space limit of each kernel in MB, 0 for none (default {defaults.memory_mb})")
    args = parser.parse_args(argv)
    if args.jobs < 1 or args.cell_timeout < 1 or args.timeout < 1 or args.memory_mb < 0:
        parser.error("--jobs, --cell-timeout and --timeout must be at least 1, --memory-mb at least 0")
    limits = Limits(cell_timeout=args.cell_timeout, timeout=args.timeout, memory_mb=args.memory_mb)
    try:
        report = grade_folder(args.submissions, args.out, jobs=args.jobs, limits=limits)
    except (FileNotFoundError, ValueError) as error:
        print(f"camlab grade: {error}", file=sys.stderr)
        return 2
    print(f"graded {len(report['learners'])} learners on {len(report['exercises'])} exercises; "
          f"results in {args.out / 'results.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
