"""How long grading takes per submission, with one and with two kernels at a time.

    python benchmarks/bench_grading.py                 # 30 learners x the synthetic ex00 notebook
    python benchmarks/bench_grading.py --learners 10
    python benchmarks/bench_grading.py --full --learners 2   # every learner submits the course's student notebooks

Each learner's notebook is a correct answer to the demo exercises (``camlab.exercises.ex00``), so the time is
mostly the fresh kernel every notebook gets. Prints seconds per submission at --jobs 1 and 2, and their ratio,
measured in this one run (the numbers depend on the machine and on whatever else it is doing).
"""
import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="camlab-bench-") as tmp:
        tmp = Path(tmp)
        count = make_submissions(tmp / "submissions", args.learners, args.full)
        print(f"{args.learners} learners, {count} notebooks ({'course' if args.full else 'synthetic ex00'})")
        seconds = {}
        for jobs in args.jobs:
            start = time.perf_counter()
            course = None if args.full else ["camlab.exercises.ex00"]  # the synthetic notebooks' exercises
            report = grading.grade_folder(tmp / "submissions", tmp / f"out{jobs}", jobs=jobs, show_progress=False,
                                          seed=1, course=course)
            seconds[jobs] = time.perf_counter() - start
            statuses = {v["status"] for learner in report["learners"].values() for v in learner["results"].values()}
            print(f"--jobs {jobs}: {seconds[jobs]:.1f} s in all, {seconds[jobs] / count:.2f} s per submission "
                  f"(verdicts seen: {', '.join(sorted(statuses))})")
        base = min(args.jobs)
        for jobs in sorted(args.jobs):
            if jobs != base:
                print(f"speed-up of --jobs {jobs} over --jobs {base}: {seconds[base] / seconds[jobs]:.2f}x")


if __name__ == "__main__":
    main()
