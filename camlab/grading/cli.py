"""``python -m camlab grade SUBMISSIONS --out DIR``: grade every learner's notebooks, a few learners at a time.

SUBMISSIONS holds one folder per learner (named after the learner, notebooks inside under any names), or a flat
folder of notebooks (the learner is then the file name). See ``camlab.grading`` for what happens to each notebook.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict
from pathlib import Path

from camlab import cli, course
from camlab.grading import sandbox
from camlab.grading.judge import grade_notebook
from camlab.grading.key import read_key
from camlab.grading.locked import SKIP_TAG, locked_notebook, skipped_cells
from camlab.grading.kernels import Limits, grader_kernels
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


def grade_learner(learner, notebooks, catalog, limits, root, seed=None, on_notebook=None, isolation=None, hide=(),
                  warm=True, skip=True, preview_skip=None):
    """Grade every notebook of one learner. ``notebooks``: ``[(path, module or None, how, problem)]``;
    ``on_notebook()`` is called after each one (progress). ``isolation`` (``sandbox.detect()``), ``hide``
    (what the kernels must not see) and ``warm`` (forked kernels): see ``kernels.grader_kernels``; ``skip``:
    leave out the author's ``grading-skip`` cells (``locked.skipped_cells``; ``preview_skip``: ``{module: cell
    ids}`` to treat as tagged too)."""
    with grader_kernels(limits, isolation, hide, warm=warm) as kernels:
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
                began = time.monotonic()
                nb, locked = locked_notebook(path, module_name)
                skipped = skipped_cells(nb, module_name, (preview_skip or {}).get(module_name, ())) if skip else []
                entry.update(grade_notebook(path, module_name, pairs, limits, kernels, seed=seed, nb=nb,
                                            skip=skipped))
                entry["locked_cells"] = locked
                entry["seconds"] = round(time.monotonic() - began, 1)  # (the first one waits for the template)
            per_notebook.append(entry)
            if on_notebook:
                on_notebook()
    return learner, per_notebook


def _seed_from(seed, key):
    """``(seed, where it came from)``: ``--seed``, else the release key's, else a fresh random one."""
    if seed is not None:
        return int(seed), "--seed"
    if key is not None and key.get("seed") is not None:
        return int(key["seed"]), "key file"
    return secrets.randbits(63), "random (pass --seed or --key to grade reproducibly)"


def grade_folder(submissions, out_dir, jobs=1, limits=None, show_progress=True, seed=None, key=None, course=None,
                 isolation="auto", shard=None, hide=(), warm=True, skip=True, preview_skip=None):
    """Grade every learner in ``submissions``; write results.csv, gradebook.csv, results.json and feedback
    pages to ``out_dir``. ``seed`` (or ``key``, a release key from ``read_key``) draws the hidden cases;
    ``course``: the exercise modules everyone is scored on (default ``course_modules(key)``).

    ``isolation``: ``"auto"``, ``"bubblewrap"``, ``"none"`` (see ``camlab.grading.sandbox.detect``) or an
    ``Isolation``; ``hide``: more files or folders the kernels must not see (the key file), besides the
    submissions and the results. ``shard=(K, N)`` grades only the K-th of N slices of the learners
    (``shard_of``); join the slices' results with ``merge``. ``warm``: fork each notebook's kernel from a
    per-learner template that has imported TensorFlow (under bubblewrap; else fresh kernels); ``skip``: leave
    out the cells the course author tagged ``grading-skip`` (see ``camlab.grading.locked``); ``preview_skip``:
    ``{module: [cell ids]}`` of locked cells to treat as tagged, to try a tagging before the notebooks carry it.
    """
    from camlab._progress import progress

    limits = limits or Limits()
    submissions, out_dir = Path(submissions).resolve(), Path(out_dir).resolve()
    if out_dir == submissions or submissions in out_dir.parents:
        raise ValueError(f"--out {out_dir} is inside the submissions folder, which grading never writes to; "
                         f"choose a folder outside it.")
    isolation = sandbox.detect(isolation) if isinstance(isolation, str) else isolation
    for warning in isolation.warnings:
        print(f"camlab grade: warning: {warning}", file=sys.stderr)
    sandbox.remove_stale_folders()  # what a killed run left behind
    hide = (submissions, out_dir, *hide)
    before = fingerprint(submissions)
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
    if shard is not None:  # the columns above are the course's, so that all slices share them
        plan = {learner: notebooks for learner, notebooks in plan.items() if shard_of(learner, shard[1]) == shard[0]}

    graded = {}
    runs = sum(1 for notebooks in plan.values() for entry in notebooks if entry[1])
    # shown even in a log file (not only on a terminal): grading must never go silent for minutes
    bar = progress(total=runs, desc="grading", unit="notebook", disable=not show_progress, mininterval=2)
    bar.set_postfix_str(f"learners 0/{len(plan)}")
    tick = lambda: bar.update(1)
    try:
        if jobs <= 1 or len(plan) <= 1:
            for learner, notebooks in plan.items():
                graded[learner] = grade_learner(learner, notebooks, catalog, limits, submissions, seed, tick,
                                                isolation, hide, warm, skip, preview_skip)[1]
                bar.set_postfix_str(f"learners {len(graded)}/{len(plan)}")
        else:
            # threads are enough: each one only waits on its own kernel (a separate process) through its own
            # event loop; the learners' code never runs in this process
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                futures = [pool.submit(grade_learner, learner, notebooks, catalog, limits, submissions, seed, tick,
                                       isolation, hide, warm, skip, preview_skip)
                           for learner, notebooks in plan.items()]
                for future in as_completed(futures):
                    learner, per_notebook = future.result()
                    graded[learner] = per_notebook
                    bar.set_postfix_str(f"learners {len(graded)}/{len(plan)}")
    finally:
        bar.close()

    report = {"exercises": columns, "course": [{"id": catalog[m][0], "module": m} for m in modules],
              "limits": asdict(limits), "isolation": isolation.describe(), "learners": {},
              "kernels": {"warm": bool(warm) and isolation.sandbox == "bubblewrap",
                          "skip_tag": SKIP_TAG if skip else None},
              "hidden_cases": {"seed_from": seed_source,
                               "fingerprint": hashlib.sha256(str(seed).encode()).hexdigest()[:12]}}
    if shard is not None:
        report["shard"] = {"index": shard[0], "count": shard[1]}
    after = fingerprint(submissions)
    changed = sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
    if changed:
        report["submissions_changed"] = changed
        print(f"camlab grade: warning: {len(changed)} files in the submissions folder changed while grading "
              f"(listed in results.json, submissions_changed): {', '.join(changed[:5])}", file=sys.stderr)
    for learner in sorted(graded):
        report["learners"][learner] = {**summarize(graded[learner], columns, catalog), "notebooks": graded[learner]}
    write_atomically(report, out_dir)
    return report


def fingerprint(folder):
    """``{relative path: sha256}`` of every file under ``folder`` (symlinks by their target's name, unfollowed)."""
    found = {}
    for path in sorted(Path(folder).rglob("*")):
        name = path.relative_to(folder).as_posix()
        if path.is_symlink():
            found[name] = "symlink to " + os.readlink(path)
        elif path.is_file():
            digest = hashlib.sha256()
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(2**20), b""):
                    digest.update(block)
            found[name] = digest.hexdigest()
    return found


def shard_of(learner, count):
    """The slice (1..``count``) a learner belongs to: from a hash of the name, so it never depends on who else
    handed in, on the order of the folder, or on the machine."""
    digest = hashlib.sha256(learner.encode("utf-8", errors="surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def parse_shard(text):
    """``"K/N"`` -> ``(K, N)`` with 1 <= K <= N."""
    try:
        index, count = (int(part) for part in str(text).split("/"))
    except ValueError:
        raise ValueError(f"--shard {text!r}: give K/N, e.g. 2/8 for the second of eight slices") from None
    if not 1 <= index <= count:
        raise ValueError(f"--shard {text!r}: K must be between 1 and N (slices are numbered from 1)")
    return index, count


def write_atomically(report, out_dir):
    """``write_results`` into a staging folder inside ``out_dir``, then move each file into place (results.json
    last), so a killed run never leaves a half-written file; a killed run's staging folder is removed."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob(".camlab-staging-*"):
        shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=".camlab-staging-", dir=out_dir))
    try:
        write_results(report, staging)
        (out_dir / "feedback").mkdir(exist_ok=True)
        files = sorted(p for p in staging.rglob("*") if p.is_file())
        for path in sorted(files, key=lambda p: p.name == "results.json"):
            target = out_dir / path.relative_to(staging)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def merge(shard_dirs, out_dir):
    """Join the results of ``grade --shard K/N`` runs (one folder each) into ``out_dir``; returns the report.

    Every slice 1..N must be there exactly once, all graded with the same exercises and limits."""
    reports = []
    for folder in map(Path, shard_dirs):
        try:
            reports.append((folder, json.loads((folder / "results.json").read_text(encoding="utf-8"))))
        except (OSError, ValueError) as error:
            raise ValueError(f"{folder}: no readable results.json ({error}); give the --out folders of the "
                             f"`grade --shard` runs") from None
    if not reports:
        raise ValueError("give the --out folders of the `grade --shard K/N` runs to merge")
    counts = {r.get("shard", {}).get("count") for _, r in reports}
    if None in counts or len(counts) != 1:
        raise ValueError("every folder must come from `grade --shard K/N` with the same N; found "
                         + ", ".join(f"{f}: {r.get('shard', 'not sharded')}" for f, r in reports))
    count = counts.pop()
    seen = {}
    for folder, report in reports:
        index = report["shard"]["index"]
        if index in seen:
            raise ValueError(f"slice {index}/{count} given twice: {seen[index]} and {folder}")
        seen[index] = folder
    missing = sorted(set(range(1, count + 1)) - set(seen))
    if missing:
        raise ValueError(f"slices {', '.join(f'{m}/{count}' for m in missing)} are missing; grade them with "
                         f"--shard, then merge all {count}")
    first = reports[0][1]
    for folder, report in reports[1:]:
        for key in ("exercises", "course", "limits", "hidden_cases"):
            if report.get(key) != first.get(key):
                raise ValueError(f"{folder} was graded with other {key} than {reports[0][0]}; grade every slice "
                                 f"with the same course and options")
    learners = {}
    for _, report in sorted(reports, key=lambda item: item[1]["shard"]["index"]):
        for learner, summary in report["learners"].items():
            summary.pop("feedback", None)
            learners[learner] = summary
    isolations = [r.get("isolation") for _, r in reports]
    if str(first.get("hidden_cases", {}).get("seed_from", "")).startswith("random"):
        raise ValueError("the slices drew their hidden cases from random seeds, so learners were graded on "
                         "different cases; grade every slice with the same --seed or --key")
    kernels = [r.get("kernels") for _, r in reports]
    merged = {**{k: first[k] for k in ("course", "hidden_cases") if k in first},
              "kernels": kernels[0] if all(k == kernels[0] for k in kernels) else kernels,
              "exercises": first["exercises"], "limits": first["limits"],
              "isolation": isolations[0] if all(i == isolations[0] for i in isolations) else isolations,
              "learners": {learner: learners[learner] for learner in sorted(learners)}}
    write_atomically(merged, out_dir)
    return merged


@cli.command("grade merge")
def merge_main(argv):
    """``python -m camlab grade merge SHARD_DIR... --out DIR``."""
    parser = cli.parser("grade merge", description=(
        "Join the results of `grade --shard K/N` runs into one results.csv, results.json and feedback/."))
    parser.add_argument("shards", nargs="+", type=Path, help="the --out folders of the slices")
    parser.add_argument("--out", type=Path, required=True, help="folder for the joined results")
    args = parser.parse_args(argv)
    try:
        report = merge(args.shards, args.out)
    except ValueError as error:
        raise cli.CommandError(error) from error
    print(f"merged {len(args.shards)} slices: {len(report['learners'])} learners; "
          f"results in {args.out / 'results.csv'}")
    return 0


def skips(results=None):
    """Lines for ``grade skips``: per course notebook, the cells grading still runs that it could skip (with
    their seconds from ``results``, a results.json, when given) and any running cell that needs a skipped one."""
    from camlab import course
    from camlab.grading import locked

    seconds = {}
    for learner in (results or {}).get("learners", {}).values():
        for notebook in learner.get("notebooks", []):
            for cell_id, took in notebook.get("kernel", {}).get("slowest_cells", []):
                seconds[cell_id] = max(took, seconds.get(cell_id, 0))
    lines = []
    for path in course.course_notebooks():
        module = course.read_notebook(path).metadata.get("camlab", {}).get("exercises")
        instructor = locked.instructor_notebook(module) if module else None
        if instructor is None:
            continue
        skipped = locked.skipped_cells(instructor, module)
        advice = locked.skip_advice(instructor.cells, skipped)
        lines.append(f"{path.name}: {len(skipped)} cells skipped, {len(advice['untagged'])} more could be")
        for index in advice["untagged"]:
            cell = instructor.cells[index]
            took = f"{seconds[cell.get('id')]:5.1f} s" if cell.get("id") in seconds else "       "
            first = (cell.source.strip().splitlines() or [""])[0][:70]
            lines.append(f"  tag {SKIP_TAG!r} (or {locked.RUN_TAG!r}): cell {index} {cell.get('id')} {took}  {first}")
        for index, names in advice["needed"].items():
            lines.append(f"  cell {index} runs but reads {', '.join(names)}, bound only by skipped cells: untag one")
    return lines


@cli.command("grade skips")
def skips_main(argv):
    """``python -m camlab grade skips [--results results.json]``."""
    parser = cli.parser("grade skips", description=(
        f"For the course author: the cells of each course notebook that grading could leave out but that are not "
        f"tagged {SKIP_TAG!r} (no cell left running reads a name only they bind), and any running cell that "
        f"needs a skipped one. Tag a cell {SKIP_TAG!r} in the solution notebook, or 'grading-run' to keep it "
        f"running (its effect is needed without a name: a file it writes, a seed it sets)."))
    parser.add_argument("--results", type=Path, default=None,
                        help="a results.json of `grade`: show each cell's seconds where it recorded them")
    args = parser.parse_args(argv)
    results = None
    if args.results is not None:
        try:
            results = json.loads(args.results.read_text())
        except (OSError, ValueError) as error:
            raise cli.CommandError(f"cannot read --results {args.results}: {error}; pass a results.json that "
                                   f"`camlab grade` wrote") from error
    print("\n".join(skips(results)))
    return 0


@cli.command("grade")
def main(argv=None):
    """``python -m camlab grade SUBMISSIONS --out DIR [--jobs N] [--cell-timeout S] [--timeout S] [--memory-mb M]``."""
    defaults = Limits()
    parser = cli.parser("grade", description=(
        "Grade a folder of submitted notebooks (one folder per learner). Runs the learners' code: each notebook "
        "runs from a private copy in a kernel of its own (a fresh fork of a per-learner template that has "
        "imported TensorFlow, under bubblewrap) under time and memory limits."))
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
    parser.add_argument("--file-mb", type=cli.nonnegative_int, default=defaults.file_mb,
                        help=f"largest file a kernel may write in MB, 0 for no limit (default {defaults.file_mb})")
    parser.add_argument("--shard", default=None, metavar="K/N",
                        help="grade only slice K of N (by a hash of the learner's name); join with `grade merge`")
    parser.add_argument("--isolation", choices=["auto", "bubblewrap", "none"], default="auto",
                        help="auto: bubblewrap and a cgroup where available (default); bubblewrap: fail without "
                             "it; none: limits only (inside a container that isolates already)")
    parser.add_argument("--course", default=None,
                        help="comma-separated exercise modules to score everyone on (default: the key's, else "
                             "every course notebook's)")
    parser.add_argument("--fresh-kernels", action="store_true",
                        help="start every kernel from scratch (default: fork it from a per-learner template that "
                             "has imported TensorFlow, under bubblewrap)")
    parser.add_argument("--run-all-cells", action="store_true",
                        help=f"also run the cells the course author tagged {SKIP_TAG!r} (default: skip them)")
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["merge"]:
        return merge_main(argv[1:])
    if argv[:1] == ["skips"]:
        return skips_main(argv[1:])
    args = parser.parse_args(argv)
    limits = Limits(cell_timeout=args.cell_timeout, timeout=args.timeout, memory_mb=args.memory_mb,
                    file_mb=args.file_mb)
    try:
        key = read_key(args.key) if args.key else None
        modules = [m.strip() for m in args.course.split(",") if m.strip()] if args.course else None
        shard = parse_shard(args.shard) if args.shard else None
        report = grade_folder(args.submissions, args.out, jobs=args.jobs, limits=limits, seed=args.seed, key=key,
                              course=modules, isolation=args.isolation, shard=shard,
                              hide=[args.key] if args.key else (), warm=not args.fresh_kernels,
                              skip=not args.run_all_cells)
    except (FileNotFoundError, ValueError, RuntimeError) as error:
        raise cli.CommandError(error) from error
    print(f"graded {len(report['learners'])} learners on {len(report['exercises'])} exercises; "
          f"results in {args.out / 'results.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
