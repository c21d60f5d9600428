"""How long grading takes per submission, with one and with two kernels at a time, sandboxed or not.

    python benchmarks/bench_grading.py                 # 30 learners x the synthetic ex00 notebook
    python benchmarks/bench_grading.py --learners 10
    python benchmarks/bench_grading.py --full --learners 2 --jobs 2   # the course's 9 student notebooks each
    python benchmarks/bench_grading.py --isolation none auto           # what the sandbox costs

Each learner's notebook is a correct answer to the demo exercises (``camlab.exercises.ex00``), or (``--full``)
the course's student notebooks, so the time is mostly the fresh kernel every notebook gets. Prints seconds per
submission for each --jobs and --isolation, their ratios, and the projection to a class of --class-size
learners x 9 notebooks, all measured in this one run (the numbers depend on the machine and its load).
"""
import argparse
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


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--learners", type=int, default=30)
    parser.add_argument("--full", action="store_true", help="the course's student notebooks instead of ex00")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--isolation", nargs="+", default=["auto"], choices=["auto", "bubblewrap", "none"])
    parser.add_argument("--class-size", type=int, default=30, help="learners in the projection (default 30)")
    args = parser.parse_args()
    print(describe())
    with tempfile.TemporaryDirectory(prefix="camlab-bench-") as tmp:
        tmp = Path(tmp)
        count = make_submissions(tmp / "submissions", args.learners, args.full)
        print(f"{args.learners} learners, {count} notebooks ({'course' if args.full else 'synthetic ex00'})")
        seconds = {}
        for isolation in args.isolation:
            for jobs in args.jobs:
                out = tmp / f"out-{isolation}-{jobs}"
                start = time.perf_counter()
                report = grading.grade_folder(tmp / "submissions", out, jobs=jobs, show_progress=False,
                                              isolation=isolation, seed=1,
                                              course=None if args.full else ["camlab.exercises.ex00"])
                seconds[isolation, jobs] = elapsed = time.perf_counter() - start
                statuses = {v["status"] for learner in report["learners"].values()
                            for v in learner["results"].values()}
                per = elapsed / count
                print(f"--isolation {isolation} ({report['isolation']['sandbox']}, {report['isolation']['memory']}) "
                      f"--jobs {jobs}: {elapsed:.1f} s in all, {per:.2f} s per submission; "
                      f"{args.class_size} learners x 9 notebooks projected: {per * args.class_size * 9 / 60:.1f} min "
                      f"(verdicts seen: {', '.join(sorted(statuses))})")
        for isolation in args.isolation:
            base = min(args.jobs)
            for jobs in sorted(args.jobs):
                if jobs != base:
                    print(f"--isolation {isolation}: speed-up of --jobs {jobs} over --jobs {base}: "
                          f"{seconds[isolation, base] / seconds[isolation, jobs]:.2f}x")
        if len(args.isolation) > 1:
            first = args.isolation[0]
            for isolation in args.isolation[1:]:
                for jobs in args.jobs:
                    ratio = seconds[isolation, jobs] / seconds[first, jobs]
                    print(f"--jobs {jobs}: --isolation {isolation} takes {ratio:.2f}x the time of --isolation {first}")


if __name__ == "__main__":
    main()
