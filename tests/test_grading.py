"""The grader on synthetic submissions: correct, partly wrong, stubs, broken and hostile notebooks.

Every notebook uses the demo exercises ``camlab.exercises.ex00`` (``clip01``, ``normalize_map``), so these tests do
not depend on the course notebooks being written. One grading run (two kernels at a time) is shared by the tests.
"""
import hashlib
import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from camlab import grading
from camlab.course import make_student
from camlab.grading.submissions import module_exists

META = {"camlab": {"id": "00_demo", "exercises": "camlab.exercises.ex00", "version": "0.1.0"}}
HEAD = "import numpy as np\nfrom camlab.exercises.ex00 import q1, q2"
CLIP = "def clip01(x):\n    return np.clip(x, 0, 1)"
NORMALIZE = ("def normalize_map(cam):\n    cam = np.maximum(cam, 0)\n"
             "    return cam / cam.max() if cam.max() > 0 else cam")
COLUMNS = ["00_demo:q1", "00_demo:q2"]
LIMITS = ["--cell-timeout", "5", "--timeout", "12", "--memory-mb", "1024", "--course", "camlab.exercises.ex00",
          "--seed", "11"]


def notebook(*cells, metadata=META):
    return new_notebook(cells=[new_code_cell(source) for source in cells], metadata=json.loads(json.dumps(metadata)))


def solution_notebook():
    return notebook(HEAD, "def clip01(x):\n    ### BEGIN SOLUTION\n    return np.clip(x, 0, 1)\n    ### END SOLUTION",
                    "q1.check()", "def normalize_map(cam):\n    ### BEGIN SOLUTION\n    return cam\n    ### END SOLUTION")


HOG = "def hog():\n    return np.empty(3 * 2**30, dtype=np.uint8).nbytes  # 3 GB of address space\nhog()"
VANDAL = ("import os, glob\nfor name in os.listdir('.'):\n    os.remove(name)\n"
          "open('../escaped.txt', 'w').write('outside')\nfor path in glob.glob('../*'):\n    print(path)")

SUBMISSIONS = {
    "alice/my work.ipynb": notebook(HEAD, CLIP, "q1.check()", NORMALIZE, "q2.check()"),
    "bob/00_demo.ipynb": notebook(HEAD, CLIP, "def normalize_map(cam):\n    return '<script>alert(1)</script>'",
                                  metadata={}),
    "carol/00_demo.ipynb": make_student(solution_notebook()),
    "dave/attempt.ipynb": notebook(HEAD, "def clip01(x):\n    raise ValueError('negative values?')", "1 / 0", NORMALIZE),
    "eve/00_demo.ipynb": notebook(HEAD, CLIP, "while True:\n    pass", "def normalize_map(cam):\n    while True:\n"
                                  "        pass", "while True:\n    pass", "while True:\n    pass", "x = 1"),
    "frank/00_demo.ipynb": notebook(HEAD, HOG, CLIP, NORMALIZE),
    "gina/00_demo.ipynb": "{ this is not JSON",
    "hank.ipynb": "",
    "ivan/00_demo.ipynb": notebook(HEAD, CLIP, NORMALIZE, VANDAL),
    "judy/00_demo.ipynb": notebook(HEAD, CLIP, "print('x' * 300_000)\nfor i in range(20_000):\n    print(i)", NORMALIZE),
    "ken/00_demo.ipynb": notebook(HEAD, CLIP, "import os\nos._exit(3)", NORMALIZE),
    # hard-coded public answers; a fake verdict printed; an object that equals everything; a patched judge
    "mallory/00_demo.ipynb": notebook(
        HEAD, "_answers = {c.args[0].tobytes(): c.expected.value for c in q1.cases}\n"
              "def clip01(x):\n    return _answers.get(np.asarray(x).tobytes(), np.zeros(np.shape(x)))",
        "class Yes:\n    def __eq__(self, other):\n        return True\n"
        "def normalize_map(cam):\n    return Yes()",
        "import camlab.exercises.core as core\ncore.Exercise.judge = lambda *a, **k: core.CheckResult('correct')",
        "print('{\"key\": \"q1\", \"status\": \"correct\"}')"),
    # camlab's own answer, captured at import time, and through an alias
    "oscar/00_demo.ipynb": notebook(
        HEAD, "from camlab.exercises.ex00 import _clip01 as mine\ndef clip01(x):\n    return mine(x)",
        "import camlab.exercises.ex00 as ex\nnormalize_map = lambda cam: ex.q2.reference(cam)"),
    # correct, after a hint and a solution
    "peggy/00_demo.ipynb": notebook(HEAD, "q1.hint()", CLIP, "q1.check()", "q2.solution()", NORMALIZE,
                                    "q1.solution()"),
}


def write_submissions(folder, names=None):
    for name, content in SUBMISSIONS.items():
        if names and name.split("/")[0].replace(".ipynb", "") not in names:
            continue
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content)
        else:
            nbformat.write(content, str(path))
    return folder


def hashes(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("grading")
    submissions = write_submissions(root / "submissions")
    before = hashes(submissions)
    out = root / "results"
    assert grading.main([str(submissions), "--out", str(out), "--jobs", "2", *LIMITS]) == 0
    report = json.loads((out / "results.json").read_text())
    return {"root": root, "submissions": submissions, "before": before, "out": out, "report": report}


def verdicts(graded, learner):
    results = graded["report"]["learners"][learner]["results"]
    return {key: results[key]["status"] for key in COLUMNS}


def message(graded, learner, key):
    return graded["report"]["learners"][learner]["results"][key]["message"]


def problems(graded, learner):
    notebooks = graded["report"]["learners"][learner]["notebooks"]
    return " | ".join(p for n in notebooks for p in n["problems"]) + " | " + " | ".join(
        e["error"] for n in notebooks for e in n["errors"])


@pytest.mark.slow
def test_results_csv_has_a_row_per_learner_a_column_per_exercise_and_a_total(graded):
    lines = (graded["out"] / "results.csv").read_text().splitlines()
    assert lines[0] == "learner,00_demo:q1,00_demo:q2,correct,points,max_points,score"
    rows = {line.split(",")[0]: line.split(",")[1:] for line in lines[1:]}
    assert sorted(rows) == ["alice", "bob", "carol", "dave", "eve", "frank", "gina", "hank", "ivan", "judy", "ken",
                            "mallory", "oscar", "peggy"]
    assert rows["alice"] == ["correct", "correct", "2/2", "2.0", "2.0", "1.0"]
    assert rows["bob"] == ["correct", "incorrect", "1/2", "1.0", "2.0", "0.5"]
    assert rows["carol"] == ["not_attempted", "not_attempted", "0/2", "0.0", "2.0", "0.0"]


@pytest.mark.slow
def test_correct_partly_wrong_and_stub_notebooks(graded):
    assert message(graded, "alice", "00_demo:q1") == "`clip01` passed all 3 public and 3 hidden cases."
    assert graded["report"]["learners"]["alice"]["notebooks"][0]["identified_by"] == "metadata"
    # no metadata: found by its import line; the checker's own message comes through
    assert graded["report"]["learners"]["bob"]["notebooks"][0]["identified_by"] == "import line"
    assert "got str '<script>alert(1)</script>'" in message(graded, "bob", "00_demo:q2")
    assert "still raises NotImplementedError" in message(graded, "carol", "00_demo:q1")


@pytest.mark.slow
def test_exceptions_are_errors_and_the_run_goes_on(graded):
    assert verdicts(graded, "dave") == {"00_demo:q1": "error", "00_demo:q2": "correct"}
    assert message(graded, "dave", "00_demo:q1").startswith("ValueError: negative values?")
    assert "ZeroDivisionError: division by zero" in problems(graded, "dave")


@pytest.mark.slow
def test_endless_loops_hit_the_cell_and_notebook_time_limits(graded):
    assert verdicts(graded, "eve") == {"00_demo:q1": "correct", "00_demo:q2": "error"}
    assert "did not finish: it ran past the 5 s time limit" in message(graded, "eve", "00_demo:q2")
    found = problems(graded, "eve")
    assert "stopped after 5 s (time limit)" in found
    assert "the notebook's time limit (12 s) was reached at cell 5" in found  # the last cells never ran


@pytest.mark.slow
def test_memory_is_limited_and_the_kernel_survives(graded):
    assert "MemoryError" in problems(graded, "frank")  # 3 GB asked, 1 GB allowed
    assert verdicts(graded, "frank") == {"00_demo:q1": "correct", "00_demo:q2": "correct"}


@pytest.mark.slow
def test_unreadable_and_empty_files_are_reported(graded):
    assert verdicts(graded, "gina") == {"00_demo:q1": "error", "00_demo:q2": "error"}  # known by its file name
    assert "not a readable notebook (NotJSONError" in message(graded, "gina", "00_demo:q1")
    assert verdicts(graded, "hank") == {"00_demo:q1": "not_attempted", "00_demo:q2": "not_attempted"}
    assert "hank.ipynb: the file is empty" in message(graded, "hank", "00_demo:q1")


@pytest.mark.slow
def test_a_vandal_only_touches_its_private_copy(graded):
    assert verdicts(graded, "ivan") == {"00_demo:q1": "correct", "00_demo:q2": "correct"}
    assert hashes(graded["submissions"]) == graded["before"]  # nothing in the submissions changed
    assert not list(graded["root"].rglob("escaped.txt"))


@pytest.mark.slow
def test_a_flood_of_output_is_capped(graded):
    assert verdicts(graded, "judy") == {"00_demo:q1": "correct", "00_demo:q2": "correct"}
    assert "printed more than 100000 characters; the rest was dropped" in problems(graded, "judy")
    assert (graded["out"] / "results.json").stat().st_size < 100_000


@pytest.mark.slow
def test_a_dead_kernel_is_reported(graded):
    assert verdicts(graded, "ken") == {"00_demo:q1": "error", "00_demo:q2": "error"}
    assert "the kernel died while running cell 2" in message(graded, "ken", "00_demo:q1")


@pytest.mark.slow
def test_feedback_pages_escape_what_learners_wrote(graded):
    page = (graded["out"] / "feedback" / "bob.html").read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>" not in page
    assert "1/2 exercises correct" in page
    assert sorted(p.name for p in (graded["out"] / "feedback").iterdir())[:2] == ["alice.html", "bob.html"]


@pytest.mark.slow
def test_grading_twice_gives_the_same_results(graded, tmp_path):
    submissions = write_submissions(tmp_path / "subs", names={"alice", "bob", "gina", "hank"})
    first, second = tmp_path / "first", tmp_path / "second"
    assert grading.main([str(submissions), "--out", str(first), *LIMITS]) == 0
    assert grading.main([str(submissions), "--out", str(second), "--jobs", "2", *LIMITS]) == 0
    assert (first / "results.csv").read_bytes() == (second / "results.csv").read_bytes()
    from camlab.grading.report import without_timings

    reports = [json.loads((folder / "results.json").read_text()) for folder in (first, second)]
    assert reports[0]["learners"]["alice"]["notebooks"][0]["seconds"] > 0  # (timings differ from run to run)
    assert without_timings(reports[0]) == without_timings(reports[1])
    again = json.loads((first / "results.json").read_text())["learners"]
    for learner in again:  # and the same as in the big run with everyone else
        assert again[learner]["results"] == graded["report"]["learners"][learner]["results"]


def test_submissions_are_found_per_folder_or_flat(tmp_path):
    (tmp_path / "zoe" / "sub").mkdir(parents=True)
    (tmp_path / "zoe" / "sub" / "b.ipynb").write_text("{}")
    (tmp_path / "zoe" / "a.ipynb").write_text("{}")
    (tmp_path / "zoe" / ".ipynb_checkpoints").mkdir()
    (tmp_path / "zoe" / ".ipynb_checkpoints" / "a-checkpoint.ipynb").write_text("{}")
    (tmp_path / "yann.ipynb").write_text("{}")
    (tmp_path / "notes.txt").write_text("not a notebook")
    found = grading.find_submissions(tmp_path)
    assert {k: [p.relative_to(tmp_path).as_posix() for p in v] for k, v in found.items()} == {
        "yann": ["yann.ipynb"], "zoe": ["zoe/a.ipynb", "zoe/sub/b.ipynb"]}
    with pytest.raises(FileNotFoundError, match="is not a folder of submissions"):
        grading.find_submissions(tmp_path / "missing")


def test_notebooks_without_exercises_are_listed_not_run(tmp_path, capsys):
    # a course notebook without exercises: camlab metadata with an id but no exercises module, and a file number
    # that no camlab.exercises module has (whichever course notebooks have exercises by now)
    number = next(f"{n:02d}" for n in range(99, 0, -1) if not module_exists(f"camlab.exercises.ex{n:02d}"))
    appendix = f"{number}_appendix"
    submissions = tmp_path / "subs"
    (submissions / "lea").mkdir(parents=True)
    nbformat.write(notebook("raise SystemExit('must not run')", metadata={"camlab": {"id": appendix}}),
                   str(submissions / "lea" / f"{appendix}.ipynb"))
    nbformat.write(notebook("x = 1", metadata={}), str(submissions / "lea" / "scratch.ipynb"))
    (submissions / "lea" / "link.ipynb").symlink_to(submissions / "lea" / "scratch.ipynb")
    assert grading.main([str(submissions), "--out", str(tmp_path / "out"), "--course", "camlab.exercises.ex00"]) == 0
    entries = json.loads((tmp_path / "out" / "results.json").read_text())["learners"]["lea"]["notebooks"]
    assert [(e["file"], e["problems"]) for e in entries] == [
        (f"lea/{appendix}.ipynb", [f"course notebook '{appendix}' has no exercises to grade; it was not run"]),
        ("lea/scratch.ipynb", ["could not tell which course notebook this is (no camlab metadata, no "
                               "`from camlab.exercises.exNN import` line, no NN_ file name); it was not run"])]
    assert (tmp_path / "out" / "results.csv").read_text().splitlines() == [
        "learner,00_demo:q1,00_demo:q2,correct,points,max_points,score",
        "lea,not_attempted,not_attempted,0/2,0.0,2.0,0.0"]


def test_identification_never_trusts_a_module_name_from_the_submission(tmp_path):
    nb = notebook("import os", metadata={"camlab": {"exercises": "os"}})
    assert grading.identify(tmp_path / "x.ipynb", nb) == (None, None)
    nb.cells.append(new_code_cell("from camlab.exercises.ex00 import q1"))
    assert grading.identify(tmp_path / "x.ipynb", nb) == ("camlab.exercises.ex00", "import line")
    assert grading.identify(tmp_path / "00_demo copy.ipynb", None) == ("camlab.exercises.ex00", "file name")
    assert grading.identify(tmp_path / "99_none.ipynb", None) == (None, None)
    assert grading.exercise_keys("camlab.exercises.ex00") == ("00_demo", [("q1", "clip01"), ("q2", "normalize_map")])


def test_command_line_errors(tmp_path, capsys):
    assert grading.main([str(tmp_path / "missing"), "--out", str(tmp_path / "out")]) == 2
    assert "is not a folder of submissions" in capsys.readouterr().err
    (tmp_path / "subs").mkdir()
    assert grading.main([str(tmp_path / "subs"), "--out", str(tmp_path / "subs" / "results")]) == 2
    assert "inside the submissions folder" in capsys.readouterr().err
    assert not (tmp_path / "subs" / "results").exists()
    with pytest.raises(SystemExit):
        grading.main([str(tmp_path / "subs"), "--out", str(tmp_path / "o"), "--jobs", "0"])


def test_csv_cells_are_not_spreadsheet_formulas():
    assert grading.csv_cell("=HYPERLINK(\"x\")") == "'=HYPERLINK(\"x\")"
    assert grading.csv_cell("alice") == "alice"
    taken = set()
    assert [grading.feedback_name(n, taken) for n in ("a b", "a_b", "../x", "")] == [
        "a_b.html", "a_b_2.html", "x.html", "learner.html"]


def test_read_submission_refuses_huge_empty_and_broken_files(tmp_path):
    huge = tmp_path / "huge.ipynb"
    with open(huge, "wb") as handle:
        handle.truncate(101 * 2**20)  # sparse: costs no disk
    assert grading.read_submission(huge) == (None, "the file is 101 MB, more than a notebook needs (100 MB at most)")
    (tmp_path / "blank.ipynb").write_text("  \n")
    assert grading.read_submission(tmp_path / "blank.ipynb") == (None, "the file is empty")
    (tmp_path / "list.ipynb").write_text("[1, 2]")
    nb, problem = grading.read_submission(tmp_path / "list.ipynb")
    assert nb is None and problem.startswith("not a readable notebook (")


@pytest.mark.slow
def test_verdicts_are_computed_outside_the_kernel_so_forgeries_fail(graded):
    assert verdicts(graded, "mallory") == {"00_demo:q1": "incorrect", "00_demo:q2": "incorrect"}
    q1 = graded["report"]["learners"]["mallory"]["results"]["00_demo:q1"]
    assert q1["message"].startswith("On hidden case 1 of 3 (its input is not shown): your answer differs")
    assert (q1["passed"], q1["total"], q1["points"]) == (4, 6, 0.6667)  # partial credit: public + all-zero case
    assert "the answer is Yes" in message(graded, "mallory", "00_demo:q2")


@pytest.mark.slow
def test_handing_in_camlabs_own_answer_is_caught_and_named(graded):
    assert verdicts(graded, "oscar") == {"00_demo:q1": "incorrect", "00_demo:q2": "incorrect"}
    assert "calls camlab's own answer, `camlab.exercises.ex00._clip01`" in message(graded, "oscar", "00_demo:q1")
    assert "`camlab.exercises.ex00._normalize_map`" in message(graded, "oscar", "00_demo:q2")
    assert graded["report"]["learners"]["oscar"]["points"] == 0.0


@pytest.mark.slow
def test_hint_and_solution_views_before_a_correct_answer_are_reported(graded):
    results = graded["report"]["learners"]["peggy"]["results"]
    assert verdicts(graded, "peggy") == {"00_demo:q1": "correct", "00_demo:q2": "correct"}
    assert results["00_demo:q1"]["views_before_correct"] == ["hint"]  # q1.solution() came after its check
    assert results["00_demo:q2"]["views_before_correct"] == ["solution"]
    page = (graded["out"] / "feedback" / "peggy.html").read_text()
    assert "Viewed before a correct answer: hint" in page


@pytest.mark.slow
def test_gradebook_and_feedback_pages_for_instructors_and_learners(graded):
    lines = (graded["out"] / "gradebook.csv").read_text().splitlines()
    assert lines[0] == "Learner,00_demo (max 2),Total (max 2)"
    assert "alice,2,2" in lines and "mallory,0.6667,0.6667" in lines
    page = (graded["out"] / "feedback" / "dave.html").read_text()
    assert "<code>dave/attempt.ipynb</code> was graded as <b>00_demo</b>" in page
    assert "q1: clip to [0, 1]<br><code>clip01</code>" in page
    assert "Run <code>q1.hint()</code> in 00_demo" in page
    assert "`" not in page  # messages rendered, no raw backticks
    assert graded["report"]["hidden_cases"]["seed_from"] == "--seed"


def test_a_learner_is_scored_out_of_the_whole_course(tmp_path):
    submissions = write_submissions(tmp_path / "subs", names={"alice"})
    nbformat.write(notebook("x = 1", metadata={"camlab": {"id": "00_demo", "exercises": "camlab.exercises.ex00"}}),
                   str(submissions / "alice" / "extra.ipynb"))
    out = tmp_path / "out"
    assert grading.main([str(submissions), "--out", str(out), *LIMITS[:-4], "--seed", "1", "--course",
                         "camlab.exercises.ex00,camlab.exercises.ex07"]) == 0
    report = json.loads((out / "results.json").read_text())
    alice = report["learners"]["alice"]
    assert alice["total"] == "2/5" and alice["max_points"] == 5.0 and alice["score"] == 0.4
    assert alice["results"]["07_iou:q1"]["status"] == "not_attempted"
    assert "no notebook for 07_iou was submitted" in alice["results"]["07_iou:q1"]["message"]


def test_an_exercise_module_outside_the_course_is_not_scored(tmp_path):
    submissions = write_submissions(tmp_path / "subs", names={"alice"})
    assert grading.main([str(submissions), "--out", str(tmp_path / "out"), "--course", "camlab.exercises.ex07"]) == 0
    alice = json.loads((tmp_path / "out" / "results.json").read_text())["learners"]["alice"]
    assert list(alice["results"]) == ["07_iou:q1", "07_iou:q2", "07_iou:q3"] and alice["points"] == 0.0
    assert "are not part of this course (07_iou); it was not run" in alice["notebooks"][0]["problems"][0]
    assert grading.main([str(submissions), "--out", str(tmp_path / "o2"), "--course", "os"]) == 2


# ----------------------------------------------------------------------------------------------------------
# Transport: plain data only.

def test_transport_round_trips_plain_data_and_refuses_the_rest(tmp_path):
    import numpy as np

    from camlab.grading import transport

    value = {"a": [1, 2.5, None, "x", True], "b": (np.arange(6).reshape(2, 3), np.float32(1.5)), "c": []}
    transport.write_data(value, tmp_path / "v")
    back = transport.read_data(tmp_path / "v")
    assert back["a"] == [1, 2.5, None, "x", True] and back["c"] == []
    assert isinstance(back["b"], tuple) and np.array_equal(back["b"][0], value["b"][0])
    assert type(back["b"][1]) is np.float32 and back["b"][1] == 1.5
    for bad in (object(), np.array([object()]), {1: 2}, {"f": lambda: 1}):
        with pytest.raises(transport.TransportError, match="not plain data"):
            transport.write_data(bad, tmp_path / "bad")
    np.save(tmp_path / "v" / "0.npy", np.array([None, 1], dtype=object), allow_pickle=True)  # a pickle inside
    with pytest.raises(transport.TransportError, match="not a plain .npy array"):
        transport.read_data(tmp_path / "v")
    (tmp_path / "w").mkdir()
    for document in ('{"npy": "../../etc/passwd"}', '{"pickle": "x"}', '{"keras": "m.keras"}', "not json"):
        (tmp_path / "w" / "data.json").write_text(document)
        with pytest.raises(transport.TransportError):
            transport.read_data(tmp_path / "w")
    with pytest.raises(transport.TransportError, match="no data.json"):
        transport.read_data(tmp_path / "missing")


# ----------------------------------------------------------------------------------------------------------
# Locked cells and the release key.

def test_edited_and_deleted_locked_cells_are_reported_and_restored():
    from camlab.grading.locked import restore_locked

    instructor = make_student(solution_notebook())
    submitted = json.loads(json.dumps(instructor))
    submitted = nbformat.from_dict(submitted)
    submitted.cells[0].source = "import numpy as np\nfrom camlab.exercises.ex00 import q1, q2\nq1.check = print"
    submitted.cells[1].source = "def clip01(x):\n    return x"
    del submitted.cells[2]  # q1.check()
    submitted.cells.append(new_code_cell("print('mine')"))
    restored, changes = restore_locked(submitted, instructor)
    assert [(c["cell"], c["change"]) for c in changes] == [(instructor.cells[0].id, "edited"),
                                                           (instructor.cells[2].id, "deleted")]
    assert [c.source for c in restored.cells] == [instructor.cells[0].source, "def clip01(x):\n    return x",
                                                  "q1.check()", instructor.cells[3].source, "print('mine')"]
    assert restore_locked(instructor, instructor)[1] == []


def test_release_key_is_checked(tmp_path):
    from camlab.grading.key import make_key, read_key, write_key

    key = make_key([("00_demo.ipynb", META["camlab"])], seed=5)
    assert key["notebooks"][0]["exercises"][0] == {"key": "q1", "func_name": "clip01", "title": "clip to [0, 1]",
                                                   "points": 1}
    assert read_key(write_key(key, tmp_path / "k.json"))["seed"] == 5
    (tmp_path / "bad.json").write_text(json.dumps({**key, "notebooks": [{"module": "os"}]}))
    with pytest.raises(ValueError, match="not a camlab exercises module"):
        read_key(tmp_path / "bad.json")
    with pytest.raises(FileNotFoundError, match="writes one"):
        read_key(tmp_path / "none.json")


# ----------------------------------------------------------------------------------------------------------
# Cells the course author lets grading skip (``grading-skip``).

def tagged(source, *tags):
    cell = new_code_cell(source)
    cell.metadata["tags"] = list(tags)
    return cell


def skip_course():
    """A solution notebook for ex00 whose set-up cell (defining SLOW) and check cell carry the tag."""
    nb = notebook(HEAD)
    nb.cells += [tagged("SLOW = 'ran'\nimport time", "grading-skip"),
                 new_code_cell("def clip01(x):\n    ### BEGIN SOLUTION\n    return np.clip(x, 0, 1)\n"
                               "    ### END SOLUTION"),
                 tagged("q1.check()", "grading-skip"),
                 new_code_cell(f"### BEGIN SOLUTION\n{NORMALIZE}\n### END SOLUTION")]
    return nb


def test_only_the_instructors_locked_cells_are_skipped(monkeypatch):
    from camlab.grading import locked

    solution = skip_course()
    instructor = make_student(solution)
    monkeypatch.setattr(locked, "_instructor_notebook", lambda module_name: instructor)
    assert [locked.is_skippable(c) for c in instructor.cells] == [False, True, False, False, False]  # not a check
    submitted = nbformat.from_dict(json.loads(json.dumps(solution)))
    submitted.cells[2].metadata["tags"] = ["grading-skip"]  # the learner's own cell: tag ignored
    submitted.cells[2].metadata["camlab"] = {"locked": True}  # and so is a forged "locked" record
    submitted.cells[1].metadata["tags"] = []  # removing the tag from the instructor's cell changes nothing
    restored, _ = locked.restore_locked(submitted, instructor)
    assert locked.skipped_cells(restored, "camlab.exercises.ex00") == [1]
    assert locked.skipped_cells(restored, "camlab.exercises.ex99") == [1]  # (the same fake instructor)
    monkeypatch.setattr(locked, "_instructor_notebook", lambda module_name: None)
    assert locked.skipped_cells(restored, "camlab.exercises.ex00") == []


def test_names_a_skipped_cell_defines():
    from camlab.grading.locked import defined_names

    assert defined_names(["import numpy as np\nimport os.path\nfrom a import b as c\nx, (y, z) = 1, (2, 3)\n"
                          "def f():\n    inner = 1\nclass K: pass\nfor i in range(3): pass\n"
                          "with open('f') as h: pass\nif (w := 5): pass\ndel y\n"
                          "squares = [n * n for n in range(3)]\ndef g():\n    global G\n    G = 1"]) == {
        "np", "os", "c", "x", "y", "z", "f", "K", "i", "h", "w", "squares", "g", "G"}  # not f's `inner`, nor `n`
    # what cannot be told: any NameError then counts
    for source in ["from numpy import *", "globals()['x'] = 1", "%timeit 1", "def broken(:"]:
        assert defined_names([source]) is None, source


@pytest.mark.slow
def test_skipped_cells_are_not_run_and_a_missing_name_regrades_with_every_cell(tmp_path, monkeypatch):
    from camlab.grading import locked

    solution = skip_course()
    instructor = make_student(solution)
    monkeypatch.setattr(locked, "_instructor_notebook", lambda module_name: instructor)
    ids = [cell.id for cell in instructor.cells]

    def variant(clip):
        nb = nbformat.from_dict(json.loads(json.dumps(solution)))
        nb.cells[2].source = clip
        return nb

    # sam's normalize_map is right only where the skipped cell did not run; his hint comes after the tagged
    # check cell, so it is "after a correct check" only if that cell ran
    sam = variant(CLIP)
    sam.cells[4].source = NORMALIZE.replace("    cam = np.maximum", "    assert 'SLOW' not in globals()\n"
                                                                   "    cam = np.maximum")
    sam.cells.append(new_code_cell("q1.hint()"))
    folder = tmp_path / "submissions"
    for learner, nb in {"sam": sam, "tina": variant("def clip01(x):\n    assert SLOW == 'ran'\n"
                                                    "    return np.clip(x, 0, 1)"),
                        "vic": variant("def clip01(x):\n    return np.clip(x, 0, undefined_bound)")}.items():
        (folder / learner).mkdir(parents=True)
        nbformat.write(nb, str(folder / learner / "00_demo.ipynb"))
    report = grading.grade_folder(folder, tmp_path / "out", show_progress=False, seed=3, warm=False,
                                  course=["camlab.exercises.ex00"])
    assert report["kernels"]["skip_tag"] == "grading-skip"
    status = {name: {k: v["status"] for k, v in learner["results"].items()}
              for name, learner in report["learners"].items()}
    kernel = {name: learner["notebooks"][0]["kernel"] for name, learner in report["learners"].items()}
    assert status["sam"] == {"00_demo:q1": "correct", "00_demo:q2": "correct"}
    assert kernel["sam"]["skipped_cells"] == [ids[1]] and "regraded" not in kernel["sam"]
    assert report["learners"]["sam"]["notebooks"][0]["views"] == {}  # the tagged check cell ran all the same
    # tina's function needs SLOW, which only the skipped cell defines: graded again with every cell, fairly
    assert status["tina"]["00_demo:q1"] == "correct"
    assert kernel["tina"]["regraded"].startswith("NameError on SLOW (defined in a cell skipped for grading)")
    assert kernel["tina"]["skipped_cells"] == []
    # a NameError on a name no skipped cell defines is the learner's own: no second run
    assert status["vic"]["00_demo:q1"] == "error" and "regraded" not in kernel["vic"]
    assert "undefined_bound" in report["learners"]["vic"]["results"]["00_demo:q1"]["message"]


@pytest.mark.slow
def test_every_course_solution_grades_all_correct_with_its_grading_skip_cells_skipped(tmp_path):
    """No solution function depends on a cell the course author tagged ``grading-skip``: each course notebook
    with exercises, handed in as it is (the solutions filled in), grades correct on every exercise with the
    tagged cells skipped, without a re-grade. All of them, warm kernels (not a subset: a tag anywhere can break
    a solution): 3 min at load 4-6 on 2 cores while the notebooks carry no tag (every cell runs), about 1.5 min
    with the tagging proposed in benchmarks/bench_grading.py (PREVIEW_SKIP)."""
    import shutil

    from camlab import course

    folder = tmp_path / "submissions" / "author"
    folder.mkdir(parents=True)
    modules = []
    for path in course.course_notebooks():
        module = course.read_notebook(path).metadata.get("camlab", {}).get("exercises")
        if module:
            modules.append(module)
            shutil.copyfile(path, folder / path.name)
    report = grading.grade_folder(tmp_path / "submissions", tmp_path / "out", show_progress=False, seed=7,
                                  course=modules)
    learner = report["learners"]["author"]
    wrong = {key: value.get("message") for key, value in learner["results"].items() if value["status"] != "correct"}
    assert wrong == {}
    assert len(learner["results"]) >= len(modules)
    for entry in learner["notebooks"]:
        assert entry["problems"] == [] and "regraded" not in entry["kernel"], (entry["file"], entry["kernel"])
        # a cell left running that needed a skipped cell's effect (a file, a seed, a change in place) fails here
        assert entry["errors"] == [], (entry["file"], entry["errors"])


def test_every_grading_skip_tag_in_the_course_is_honoured_and_no_cell_that_runs_needs_a_skipped_one():
    """A tag the grader does not honour (a cell that calls qN.check() or qN.use()) misleads the author; a cell that
    runs but reads a name only a skipped cell binds would make every learner's notebook fall back to a full
    re-grade (NameError). Checked on the instructor's notebooks, as the grader builds them."""
    from camlab.grading import locked
    from camlab.paths import notebooks_dir

    checked = 0
    for path in sorted(notebooks_dir().glob("[0-9][0-9]_*.ipynb")):
        module = nbformat.read(str(path), as_version=4).metadata.get("camlab", {}).get("exercises")
        instructor = locked.instructor_notebook(module)
        skipped = set(locked.skipped_cells(instructor, module))
        tagged = {i for i, c in enumerate(instructor.cells) if locked.SKIP_TAG in (c.metadata.get("tags") or [])}
        assert tagged == skipped, f"{path.name}: tagged but not skipped: {sorted(tagged - skipped)}"
        needed = locked.needed_from_skipped(instructor.cells, skipped)
        assert not needed, f"{path.name}: cells that run read names only skipped cells bind: {needed}"
        checked += len(skipped)
    assert checked >= 30


def test_read_names_leaves_out_parameters_locals_and_loop_variables_of_comprehensions():
    from camlab.grading.locked import read_names

    source = ("def f(a, *b, c=DEFAULT, **d):\n    inner = a + GLOBAL\n    def g(x):\n        return x + inner\n"
              "    return [y for y in b if y > LIMIT]\nscale = lambda q: q * FACTOR\n"
              "total = sum(v for v in DATA)\nclass K(Base):\n    size = SIZE\n    def m(self):\n        return MORE")
    assert read_names(source) == {"DEFAULT", "GLOBAL", "LIMIT", "FACTOR", "sum", "DATA", "Base", "SIZE", "MORE"}
    # a name a function reads but never binds is a global it needs
    assert read_names("def show(item):\n    print(name, item)") == {"print", "name"}


def test_needed_from_skipped_finds_a_name_only_a_skipped_cell_binds():
    from camlab.grading import locked

    cells = [new_code_cell(s) for s in ("a = 1\nb = 2", "c = a + 1", "b = 5", "print(b, c)", "def f():\n    return c")]
    assert locked.needed_from_skipped(cells, {1}) == {3: ["c"], 4: ["c"]}
    assert locked.needed_from_skipped(cells, {0}) == {1: ["a"]}  # b is bound again by cell 2 before cell 3 reads it
    assert locked.needed_from_skipped(cells, set()) == {}


def _locked_cell(source, *tags):
    cell = new_code_cell(source)
    cell.metadata["camlab"] = {"locked": True}
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def test_could_skip_keeps_what_a_running_cell_reads_and_never_offers_checks_set_up_or_learner_cells():
    from camlab.grading import locked

    cells = [_locked_cell("import numpy as np\nimport camlab\ncamlab.require('0.1.0')"),  # 0 set-up: runs
             _locked_cell("data = np.arange(3)\nslow = sum(range(10))"),                   # 1 data read below: runs
             _locked_cell("figure = slow * 2"),                                            # 2 a demonstration
             new_code_cell("def f(x):\n    return x + data[0]"),                           # 3 the learner's
             _locked_cell("q1.check()"),                                                   # 4 a check
             _locked_cell("print(figure)"),                                                # 5 reads 2's name only
             _locked_cell("np.random.seed(0)", locked.RUN_TAG),                            # 6 kept on purpose
             _locked_cell("g = q1.use()\nprint(g(data))")]                                 # 7 use(): runs
    assert locked.could_skip(cells) == [2, 5]
    assert locked.needed_from_skipped(cells, set(locked.could_skip(cells))) == {}
    cells[7].source = "g = q1.use()\nprint(g(figure))"  # now a running cell reads 2's name: 2 must run
    assert locked.could_skip(cells) == [5]
    assert locked.skip_advice(cells, [5]) == {"untagged": [], "needed": {}}
    assert locked.skip_advice(cells, [2]) == {"untagged": [5], "needed": {5: ["figure"], 7: ["figure"]}}


def test_the_course_tags_every_cell_grading_could_skip():
    """Grading stays fast only while the author tags each new demonstration cell: every cell that `could_skip`
    offers carries `grading-skip` (or `grading-run`, kept running on purpose). `camlab grade skips` lists them."""
    from camlab.grading import cli as grading_cli

    lines = grading_cli.skips()
    assert len(lines) >= 11
    assert all(line.endswith(", 0 more could be") for line in lines), "\n".join(lines)


def test_grade_skips_names_the_cells_to_tag_with_their_seconds(tmp_path, monkeypatch, capsys):
    from camlab.grading import cli as grading_cli
    from camlab.grading import locked

    from camlab.paths import notebooks_dir

    path = next(iter(sorted(notebooks_dir().glob("06_*.ipynb"))))
    module = nbformat.read(str(path), as_version=4).metadata["camlab"]["exercises"]
    instructor = locked.instructor_notebook(module)
    skipped = locked.skipped_cells(instructor, module)
    untagged = instructor.cells[skipped[-1]].get("id")
    honoured = locked.skipped_cells
    monkeypatch.setattr(locked, "skipped_cells", lambda nb, name, preview=(): [
        i for i in honoured(nb, name) if nb.cells[i].get("id") != untagged])  # as if the author forgot one tag
    results = {"learners": {"a": {"notebooks": [{"kernel": {"slowest_cells": [[untagged, 2.5]]}}]}}}
    (tmp_path / "results.json").write_text(json.dumps(results))
    assert grading_cli.skips_main(["--results", str(tmp_path / "results.json")]) == 0
    out = capsys.readouterr().out
    assert f"{path.name}: {len(skipped) - 1} cells skipped, 1 more could be" in out
    assert f"tag 'grading-skip' (or 'grading-run'): cell {skipped[-1]} {untagged}   2.5 s" in out
    assert grading_cli.skips_main(["--results", str(tmp_path / "missing.json")]) == 2
    assert "cannot read --results" in capsys.readouterr().err
