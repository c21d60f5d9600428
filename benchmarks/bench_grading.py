"""How long grading takes per submission: fresh vs warm kernels, every cell vs skipping, sandboxed or not.

    python benchmarks/bench_grading.py                 # 30 learners x the synthetic ex00 notebook
    python benchmarks/bench_grading.py --learners 10
    python benchmarks/bench_grading.py --full --learners 2 --jobs 2   # the course's student notebooks each
    python benchmarks/bench_grading.py --full --learners 2 --jobs 2 --modes fresh warm warm+skip
    python benchmarks/bench_grading.py --isolation none auto           # what the sandbox costs
    python benchmarks/bench_grading.py --full --answers --notebooks 9 --learners 30 --jobs 2 --modes warm+skip
                                                                       # the class itself: 30 x 01..09, answered

Each learner's notebooks are correct answers to the demo exercises (``camlab.exercises.ex00``), or (``--full``)
the course's student notebooks as handed out (nothing attempted, so every exercise is checked and fails fast),
or (``--full --answers``) the solution notebooks (every exercise answered correctly, so every hidden case runs to
the end: a class that did the work). ``--notebooks N`` hands in notebooks 01..N only.
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
from collections import Counter
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


def make_submissions(folder, learners, full, answers=False, notebooks=None):
    if full:
        where = notebooks_dir() if answers else notebooks_dir() / "student"
        sources = sorted(where.glob("[0-9][0-9]_*.ipynb"))
        if notebooks is not None:
            sources = [path for path in sources if int(path.name[:2]) <= notebooks]
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


def cpu_seconds():
    """Busy CPU seconds of the whole machine so far, every core and process (Linux /proc/stat; 0 elsewhere)."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


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
    parser.add_argument("--answers", action="store_true",
                        help="with --full: hand in the solution notebooks (every exercise answered) instead")
    parser.add_argument("--notebooks", type=int, default=None, metavar="N",
                        help="with --full: hand in notebooks 01..N only (and print the time itself, not a projection)")
    parser.add_argument("--jobs", type=int, nargs="+", default=[2])
    parser.add_argument("--isolation", nargs="+", default=["auto"], choices=["auto", "bubblewrap", "none"])
    parser.add_argument("--modes", nargs="+", default=["fresh", "warm", "warm+skip"],
                        choices=["fresh", "warm", "warm+skip", "fresh+skip"])
    parser.add_argument("--class-size", type=int, default=30, help="learners in the projection (default 30)")
    args = parser.parse_args()
    print(describe())
    with tempfile.TemporaryDirectory(prefix="camlab-bench-") as tmp:
        tmp = Path(tmp)
        count = make_submissions(tmp / "submissions", args.learners, args.full, args.answers, args.notebooks)
        kind = ("course, answered" if args.answers else "course, as handed out") if args.full else "synthetic ex00"
        print(f"{args.learners} learners, {count} notebooks ({kind})")
        seconds = {}
        for isolation in args.isolation:
            for mode in args.modes:
                for jobs in args.jobs:
                    out = tmp / f"out-{isolation}-{mode}-{jobs}"
                    load = os.getloadavg()[0]
                    cpu_start = cpu_seconds()
                    start = time.perf_counter()
                    report = grading.grade_folder(tmp / "submissions", out, jobs=jobs, show_progress=False,
                                                  isolation=isolation, seed=1, warm=mode.startswith("warm"),
                                                  skip=mode.endswith("+skip"), preview_skip=PREVIEW_SKIP,
                                                  course=None if args.full else ["camlab.exercises.ex00"])
                    seconds[isolation, mode, jobs] = elapsed = time.perf_counter() - start
                    notebooks = [n for learner in report["learners"].values() for n in learner["notebooks"]]
                    kinds = sorted({n["kernel"]["kernel"] for n in notebooks if n.get("kernel")})
                    regraded = sum(1 for n in notebooks if n.get("kernel", {}).get("regraded"))
                    statuses = Counter(v["status"] for learner in report["learners"].values()
                                       for v in learner["results"].values())
                    line = (f"--isolation {isolation} ({report['isolation']['sandbox']}, "
                            f"{report['isolation']['memory']}) {mode} --jobs {jobs}: {elapsed:.1f} s in all, "
                            f"{elapsed / count:.2f} s per submission (kernels: {', '.join(kinds)}; "
                            f"{regraded} regraded; verdicts: {', '.join(f'{k} {n}' for k, n in sorted(statuses.items()))}; load at start {load:.1f})")
                    if args.full and args.notebooks is not None:
                        line += (f"; CPU {cpu_seconds() - cpu_start:.0f} s of the machine's cores; "
                                 f"{args.learners} x {count // args.learners} notebooks took {elapsed / 60:.1f} min")
                    elif args.full:
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
