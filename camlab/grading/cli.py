"""``python -m camlab grade SUBMISSIONS --out DIR``: grade every learner's notebooks, a few learners at a time.

SUBMISSIONS holds one folder per learner (named after the learner, notebooks inside under any names), or a flat
folder of notebooks (the learner is then the file name). See ``camlab.grading`` for what happens to each notebook.
"""
from __future__ import annotations

import hashlib
import secrets
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict
from pathlib import Path

from camlab import cli, course
from camlab.grading.judge import grade_notebook
from camlab.grading.key import read_key
from camlab.grading.locked import locked_notebook
from camlab.grading.kernels import Limits, grader_kernelspec
from camlab.grading.report import summarize, write_results
from camlab.grading.submissions import (MODULE_NAME, exercise_keys, find_submissions, identify, module_exists,
                                        read_submission)
from camlab.grading.text import clip


def course_modules(key=None):
    """The exercise modules of the course, in notebook order: the release's (its key), else every course notebook
    that has exercises. A learner is scored out of all of them, whatever they handed in."""
    if key is not None:
        return [entry["module"] for entry in key["notebooks"] if entry.get("module")]
    modules = []
    for path in course.course_notebooks():
        try:
            meta = course.read_notebook(path).metadata.get("camlab", {})
        except Exception:  # an author's half-saved notebook must not stop grading
            continue
        if meta.get("exercises") and meta["exercises"] not in modules:
            modules.append(meta["exercises"])
    return modules


def grade_learner(learner, notebooks, catalog, limits, root, seed=None, on_notebook=None):
    """Grade every notebook of one learner. ``notebooks``: ``[(path, module or None, how, problem)]``;
    ``on_notebook()`` is called after each one (progress)."""
    kernels_dir = Path(tempfile.mkdtemp(prefix="camlab-kernels-"))
    try:
        grader_kernelspec(kernels_dir, limits)
        per_notebook = []
        for path, module_name, how, problem in notebooks:
            entry = {"file": Path(path).relative_to(root).as_posix(), "module": module_name, "identified_by": how}
            if module_name is None:
                entry.update(results={}, errors=[], views={}, problems=[problem or (
                    "could not tell which course notebook this is (no camlab metadata, no `from camlab.exercises."
                    "exNN import` line, no NN_ file name); it was not run")])
            else:
                notebook_id, pairs = catalog[module_name]
                entry["id"] = notebook_id
                nb, locked = locked_notebook(path, module_name)
                entry.update(grade_notebook(path, module_name, pairs, limits, kernels_dir, seed=seed, nb=nb))
                entry["locked_cells"] = locked
            per_notebook.append(entry)
            if on_notebook:
                on_notebook()
    finally:
        shutil.rmtree(kernels_dir, ignore_errors=True)
    return learner, per_notebook


def _seed_from(seed, key):
    """``(seed, where it came from)``: ``--seed``, else the release key's, else a fresh random one."""
    if seed is not None:
        return int(seed), "--seed"
    if key is not None and key.get("seed") is not None:
        return int(key["seed"]), "key file"
    return secrets.randbits(63), "random (pass --seed or --key to grade reproducibly)"


def grade_folder(submissions, out_dir, jobs=1, limits=None, show_progress=True, seed=None, key=None, course=None):
    """Grade every learner in ``submissions``; write results.csv, gradebook.csv, results.json and feedback
    pages to ``out_dir``. ``seed`` (or ``key``, a release key from ``read_key``) draws the hidden cases;
    ``course``: the exercise modules everyone is scored on (default ``course_modules(key)``)."""
    from camlab._progress import progress

    limits = limits or Limits()
    submissions, out_dir = Path(submissions).resolve(), Path(out_dir).resolve()
    if out_dir == submissions or submissions in out_dir.parents:
        raise ValueError(f"--out {out_dir} is inside the submissions folder, which grading never writes to; "
                         f"choose a folder outside it.")
    learners = find_submissions(submissions)
    modules = list(course) if course is not None else course_modules(key)
    for module in modules:
        if not (isinstance(module, str) and MODULE_NAME.match(module) and module_exists(module)):
            raise ValueError(f"{module!r} is not a camlab exercises module (camlab.exercises.exNN)")
    catalog = {module: exercise_keys(module) for module in modules}
    plan = {}
    for learner, paths in learners.items():
        plan[learner] = []
        for path in paths:
            nb, problem = read_submission(path)
            module_name, how = identify(path, nb)
            meta = nb.metadata.get("camlab") if nb is not None else None
            if module_name is None and problem is None and isinstance(meta, dict) and meta.get("id"):
                problem = f"course notebook {clip(meta['id'], 40)!r} has no exercises to grade; it was not run"
            elif module_name is not None and module_name not in catalog:
                problem = (f"its exercises ({module_name}) are not part of this course "
                           f"({', '.join(catalog[m][0] for m in modules) or 'no exercises'}); it was not run")
                module_name = None
            plan[learner].append((str(path), module_name, how, problem))
    columns = [f"{catalog[m][0]}:{attribute}" for m in modules for attribute, _ in catalog[m][1]]
    seed, seed_source = _seed_from(seed, key)

    graded = {}
    runs = sum(1 for notebooks in plan.values() for entry in notebooks if entry[1])
    # shown even in a log file (not only on a terminal): grading must never go silent for minutes
    bar = progress(total=runs, desc="grading", unit="notebook", disable=not show_progress, mininterval=2)
    bar.set_postfix_str(f"learners 0/{len(plan)}")
    tick = lambda: bar.update(1)
    try:
        if jobs <= 1 or len(plan) <= 1:
            for learner, notebooks in plan.items():
                graded[learner] = grade_learner(learner, notebooks, catalog, limits, submissions, seed, tick)[1]
                bar.set_postfix_str(f"learners {len(graded)}/{len(plan)}")
        else:
            # threads are enough: each one only waits on its own kernel (a separate process) through its own
            # event loop; the learners' code never runs in this process
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                futures = [pool.submit(grade_learner, learner, notebooks, catalog, limits, submissions, seed, tick)
                           for learner, notebooks in plan.items()]
                for future in as_completed(futures):
                    learner, per_notebook = future.result()
                    graded[learner] = per_notebook
                    bar.set_postfix_str(f"learners {len(graded)}/{len(plan)}")
    finally:
        bar.close()

    report = {"exercises": columns, "course": [{"id": catalog[m][0], "module": m} for m in modules],
              "limits": asdict(limits), "learners": {},
              "hidden_cases": {"seed_from": seed_source,
                               "fingerprint": hashlib.sha256(str(seed).encode()).hexdigest()[:12]}}
    for learner in sorted(graded):
        report["learners"][learner] = {**summarize(graded[learner], columns, catalog), "notebooks": graded[learner]}
    write_results(report, out_dir)
    return report


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
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of the hidden cases (default: the --key file's, else a fresh random one)")
    parser.add_argument("--key", type=Path, default=None,
                        help="the release's key file (written by `camlab release`): hidden-case seed, exercise list")
    parser.add_argument("--course", default=None,
                        help="comma-separated exercise modules to score everyone on (default: the key's, else "
                             "every course notebook's)")
    args = parser.parse_args(argv)
    limits = Limits(cell_timeout=args.cell_timeout, timeout=args.timeout, memory_mb=args.memory_mb)
    try:
        key = read_key(args.key) if args.key else None
        modules = [m.strip() for m in args.course.split(",") if m.strip()] if args.course else None
        report = grade_folder(args.submissions, args.out, jobs=args.jobs, limits=limits, seed=args.seed, key=key,
                              course=modules)
    except (FileNotFoundError, ValueError) as error:
        raise cli.CommandError(error) from error
    print(f"graded {len(report['learners'])} learners on {len(report['exercises'])} exercises; "
          f"results in {args.out / 'results.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
