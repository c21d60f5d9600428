"""How long grading takes per submission: fresh vs warm kernels, every cell vs skipping, sandboxed or not.

    python benchmarks/bench_grading.py                 # 30 learners x the synthetic ex00 notebook
    python benchmarks/bench_grading.py --learners 10
    python benchmarks/bench_grading.py --full --learners 2 --jobs 2   # the course's student notebooks each
    python benchmarks/bench_grading.py --full --learners 2 --jobs 2 --modes fresh warm warm+skip
    python benchmarks/bench_grading.py --isolation none auto           # what the sandbox costs

Each learner's notebooks are correct answers to the demo exercises (``camlab.exercises.ex00``), or (``--full``)
the course's student notebooks as handed out (nothing attempted, so every exercise is checked and fails fast).
``--modes``: ``fresh`` (a new kernel per notebook, every cell run: grading before warm kernels), ``warm`` (each
kernel forked from a per-learner template that has imported TensorFlow), ``warm+skip`` (also leaving out the
cells tagged ``grading-skip``, plus any in ``PREVIEW_SKIP``: a tagging to try, applied in memory only). Prints the machine (with its load average: the cores may be shared), seconds per
submission for each mode, --jobs and --isolation, the ratios between them, and projections to a class of
--class-size learners x 9 and x 11 notebooks, all measured in this one run.

The projection for N notebooks scales the run's wall time by the share of the graded notebooks' own seconds
(``results.json``: ``seconds``, the first one of a learner including the wait for its template) that notebooks
01..N took, and by class size / learners.
"""
import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from _machine import describe
from camlab import grading
from camlab.paths import notebooks_dir

SYNTHETIC = [
    "import numpy as np\nfrom camlab.exercises.ex00 import q1, q2",
    "def clip01(x):\n    return np.clip(x, 0, 1)\nq1.check()",
    "def normalize_map(cam):\n    cam = np.maximum(cam, 0)\n    return cam / cam.max() if cam.max() > 0 else cam\n"
    "q2.check()",
]

# Cells to treat as tagged `grading-skip` in this run only, {exercises module: [cell id, ...]}: a tagging to try
# before the notebooks carry it. The course notebooks carry theirs (the README's instructor section lists them).
PREVIEW_SKIP = {}


def make_submissions(folder, learners, full):
    if full:
        sources = sorted((notebooks_dir() / "student").glob("[0-9][0-9]_*.ipynb"))
        if not sources:
            sys.exit("--full needs the course's student notebooks in notebooks/student/ (python -m camlab student)")
    for number in range(learners):
        learner = folder / f"learner{number:03d}"
        learner.mkdir(parents=True)
        if full:
            for source in sources:
                shutil.copyfile(source, learner / source.name)
        else:
            nb = new_notebook(cells=[new_code_cell(c) for c in SYNTHETIC], metadata={"camlab": {
                "id": "00_demo", "exercises": "camlab.exercises.ex00", "version": "0.1.0"}})
            nbformat.write(nb, str(learner / "00_demo.ipynb"))
    return sum(1 for _ in folder.rglob("*.ipynb"))


def projection(report, elapsed, learners, class_size, first_n):
    """Minutes for ``class_size`` learners x notebooks 01..``first_n`` (see the module docstring)."""
    seconds = [(int(Path(n["file"]).name[:2]) if Path(n["file"]).name[:2].isdigit() else 0, n.get("seconds", 0))
               for learner in report["learners"].values() for n in learner["notebooks"]]
    total = sum(s for _, s in seconds) or 1
    share = sum(s for number, s in seconds if number <= first_n) / total
    return elapsed * share * class_size / learners / 60


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--learners", type=int, default=30)
    parser.add_argument("--full", action="store_true", help="the course's student notebooks instead of ex00")
    parser.add_argument("--jobs", type=int, nargs="+", default=[2])
    parser.add_argument("--isolation", nargs="+", default=["auto"], choices=["auto", "bubblewrap", "none"])
    parser.add_argument("--modes", nargs="+", default=["fresh", "warm", "warm+skip"],
                        choices=["fresh", "warm", "warm+skip", "fresh+skip"])
    parser.add_argument("--class-size", type=int, default=30, help="learners in the projection (default 30)")
    args = parser.parse_args()
    print(describe())
    with tempfile.TemporaryDirectory(prefix="camlab-bench-") as tmp:
        tmp = Path(tmp)
        count = make_submissions(tmp / "submissions", args.learners, args.full)
        print(f"{args.learners} learners, {count} notebooks ({'course' if args.full else 'synthetic ex00'})")
        seconds = {}
        for isolation in args.isolation:
            for mode in args.modes:
                for jobs in args.jobs:
                    out = tmp / f"out-{isolation}-{mode}-{jobs}"
                    load = os.getloadavg()[0]
                    start = time.perf_counter()
                    report = grading.grade_folder(tmp / "submissions", out, jobs=jobs, show_progress=False,
                                                  isolation=isolation, seed=1, warm=mode.startswith("warm"),
                                                  skip=mode.endswith("+skip"), preview_skip=PREVIEW_SKIP,
                                                  course=None if args.full else ["camlab.exercises.ex00"])
                    seconds[isolation, mode, jobs] = elapsed = time.perf_counter() - start
                    notebooks = [n for learner in report["learners"].values() for n in learner["notebooks"]]
                    kinds = sorted({n["kernel"]["kernel"] for n in notebooks if n.get("kernel")})
                    regraded = sum(1 for n in notebooks if n.get("kernel", {}).get("regraded"))
                    statuses = sorted({v["status"] for learner in report["learners"].values()
                                       for v in learner["results"].values()})
                    line = (f"--isolation {isolation} ({report['isolation']['sandbox']}, "
                            f"{report['isolation']['memory']}) {mode} --jobs {jobs}: {elapsed:.1f} s in all, "
                            f"{elapsed / count:.2f} s per submission (kernels: {', '.join(kinds)}; "
                            f"{regraded} regraded; verdicts: {', '.join(statuses)}; load at start {load:.1f})")
                    if args.full:
                        line += "; projected: " + ", ".join(
                            f"{args.class_size} x {n}: "
                            f"{projection(report, elapsed, args.learners, args.class_size, n):.1f} min"
                            for n in (9, 11))
                    else:
                        line += f"; {args.class_size} x 9 projected: {elapsed / count * args.class_size * 9 / 60:.1f} min"
                    print(line, flush=True)
        for isolation in args.isolation:
            for jobs in args.jobs:
                base = seconds.get((isolation, args.modes[0], jobs))
                for mode in args.modes[1:]:
                    print(f"--isolation {isolation} --jobs {jobs}: {mode} takes "
                          f"{seconds[isolation, mode, jobs] / base:.2f}x the time of {args.modes[0]}")
            for mode in args.modes:
                low = min(args.jobs)
                for jobs in sorted(args.jobs):
                    if jobs != low:
                        print(f"--isolation {isolation} {mode}: speed-up of --jobs {jobs} over --jobs {low}: "
                              f"{seconds[isolation, mode, low] / seconds[isolation, mode, jobs]:.2f}x")
        if len(args.isolation) > 1:
            first = args.isolation[0]
            for isolation in args.isolation[1:]:
                for mode in args.modes:
                    for jobs in args.jobs:
                        ratio = seconds[isolation, mode, jobs] / seconds[first, mode, jobs]
                        print(f"{mode} --jobs {jobs}: --isolation {isolation} takes {ratio:.2f}x the time of "
                              f"--isolation {first}")
        print(describe("at the end"))


if __name__ == "__main__":
    main()
