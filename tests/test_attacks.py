"""The attack corpus (tests/attacks/): every hostile submission graded in one run, then what must hold after it.

Each attack is a learner of the demo exercises (``camlab.exercises.ex00``); ``zz_honest`` hands in correct
answers and must keep them whatever the others do. Checked after grading: each attack's expected verdicts (no
forged ``correct``), every submission byte-identical and no file added, the results folder holding only what
the grader wrote, no secret in the results, nothing written outside the kernels' folders, no process left
behind, and a second run giving identical results.

Some attacks (kill the grader, a fork bomb) are only safe inside the sandbox, so the corpus runs only where
bubblewrap works (CI installs it); tests/test_sandbox.py covers the fallback.
"""
import hashlib
import json
import os
import re
import socket
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from camlab import grading
from camlab.grading import sandbox

ATTACKS = Path(__file__).parent / "attacks"
META = {"camlab": {"id": "00_demo", "exercises": "camlab.exercises.ex00", "version": "0.1.0"}}
HEAD = "import numpy as np\nfrom camlab.exercises.ex00 import q1, q2"
HONEST = ("def clip01(x):\n    return np.clip(x, 0, 1)\n",
          "def normalize_map(cam):\n    cam = np.maximum(cam, 0)\n    return cam / cam.max() if cam.max() > 0 else cam")
SECRET = "camlab-test-secret-" + "7f3a9c"
LIMITS = ["--jobs", "2", "--cell-timeout", "8", "--timeout", "20", "--memory-mb", "1024", "--file-mb", "64",
          "--course", "camlab.exercises.ex00", "--seed", "7"]
# Attacks that only a cgroup stops (memory spread over processes, a fork bomb): left out where there is none.
NEEDS_CGROUP = {"memory_tree", "fork_bomb"}
HAS_CGROUP = sandbox.detect().memory.startswith("cgroup")

pytestmark = pytest.mark.skipif(sandbox.detect().sandbox != "bubblewrap",
                                reason="the attack corpus kills processes and forks without end: it runs only "
                                       "inside the sandbox (apt-get install bubblewrap)")


def attacks():
    return sorted(p for p in ATTACKS.glob("*.py") if HAS_CGROUP or p.stem not in NEEDS_CGROUP)


def parse(path, values):
    """``(cells, {exercise: expected})`` of an attack file, placeholders filled in."""
    text = path.read_text()
    for name, value in values.items():
        text = text.replace("{" + name + "}", str(value))
    expected = dict(re.findall(r"^# expect (\w+): (\S+)$", text, re.MULTILINE))
    cells = [chunk.strip() for chunk in text.split("# %%")[1:]]
    return [HEAD, *cells], expected


def hashes(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(folder).rglob("*")) if p.is_file() or p.is_symlink()}


def grade(submissions, out):
    assert grading.main([str(submissions), "--out", str(out), *LIMITS]) == 0
    return json.loads((out / "results.json").read_text())


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("attacks")
    submissions, outside = root / "submissions", root / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.setblocking(False)
    values = {"SUBMISSIONS": submissions, "RESULTS": root / "results", "OUTSIDE": outside,
              "PORT": listener.getsockname()[1]}
    expected = {}
    for path in attacks():
        cells, expected[path.stem] = parse(path, values)
        (submissions / path.stem).mkdir(parents=True)
        nb = new_notebook(cells=[new_code_cell(c) for c in cells], metadata=json.loads(json.dumps(META)))
        nbformat.write(nb, str(submissions / path.stem / "00_demo.ipynb"))
    honest = new_notebook(cells=[new_code_cell(c) for c in (HEAD, *HONEST)], metadata=json.loads(json.dumps(META)))
    (submissions / "zz_honest").mkdir()
    nbformat.write(honest, str(submissions / "zz_honest" / "00_demo.ipynb"))
    before = hashes(submissions)
    home_before = sorted(os.listdir(Path.home()))
    os.environ["CAMLAB_TEST_SECRET"] = SECRET
    try:
        first = grade(submissions, root / "results")
        time.sleep(5)  # the background attack acts 4 s after its notebook; give it the chance
        second = grade(submissions, root / "results-again")
    finally:
        del os.environ["CAMLAB_TEST_SECRET"]
    try:
        connection = listener.accept()
    except BlockingIOError:
        connection = None
    listener.close()
    return {"root": root, "first": first, "second": second, "expected": expected, "before": before,
            "after": hashes(submissions), "connection": connection, "outside": sorted(os.listdir(outside)),
            "home_before": home_before, "home_after": sorted(os.listdir(Path.home())), "submissions": submissions}


def test_the_corpus_has_at_least_twenty_attacks_each_with_expected_verdicts():
    assert len(attacks()) >= 20
    for path in ATTACKS.glob("*.py"):
        _, expected = parse(path, {})
        assert set(expected) == {"q1", "q2"}, path.name


@pytest.mark.slow
@pytest.mark.parametrize("attack", [p.stem for p in attacks()])
def test_no_forged_verdict(corpus, attack):
    got = {key.split(":")[1]: v["status"] for key, v in corpus["first"]["learners"][attack]["results"].items()}
    for exercise, want in corpus["expected"][attack].items():
        if want == "!correct":
            assert got[exercise] != "correct", (exercise, corpus["first"]["learners"][attack]["results"])
        elif want != "*":
            assert got[exercise] == want, (exercise, corpus["first"]["learners"][attack])


@pytest.mark.slow
def test_the_honest_learner_keeps_full_marks_and_nobody_else_appears(corpus):
    report = corpus["first"]
    assert report["learners"]["zz_honest"]["total"] == "2/2"
    assert sorted(report["learners"]) == sorted([p.stem for p in attacks()] + ["zz_honest"])  # no ghost
    assert report["isolation"]["sandbox"] == "bubblewrap"


@pytest.mark.slow
def test_every_submission_is_byte_identical_and_none_was_added(corpus):
    assert corpus["after"] == corpus["before"]


@pytest.mark.slow
def test_the_results_folder_holds_only_what_the_grader_wrote(corpus):
    out = corpus["root"] / "results"
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    learners = sorted(corpus["first"]["learners"])
    written = ["gradebook.csv", "results.csv", "results.json", *(f"feedback/{name}.html" for name in learners)]
    assert files == sorted(written)
    assert "write_results,correct,correct" not in (out / "results.csv").read_text()


@pytest.mark.slow
def test_no_secret_leaves_the_grader(corpus):
    for path in (corpus["root"] / "results").rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text(errors="replace"), path
    assert corpus["connection"] is None  # nothing reached the grader's machine over the network


@pytest.mark.slow
def test_nothing_is_written_outside_the_kernels_folders_and_no_process_outlives_grading(corpus):
    assert corpus["outside"] == ["secret.txt"]  # the background process never wrote; no 1 GB file
    assert corpus["home_after"] == corpus["home_before"]
    assert not (corpus["root"] / "big.bin").exists()
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            assert b"background-was-here" not in (entry / "cmdline").read_bytes()
        except OSError:
            pass


@pytest.mark.slow
def test_a_second_run_gives_identical_results(corpus):
    from camlab.grading.report import without_timings

    first, second = without_timings(corpus["first"]), without_timings(corpus["second"])
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
