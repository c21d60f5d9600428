"""Student notebooks from the solution source, the sync check, the release, and executing notebooks."""
import copy
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output, new_raw_cell

from camlab import course
from camlab.course import MarkerError, make_student, out_of_sync, release_main, strip_tf_noise, student_main
from camlab.paths import notebooks_dir

META = {"id": "00_demo", "exercises": "camlab.exercises.ex00", "version": "0.1.0"}


def course_exercise_modules():
    """The exercise modules that the course notebooks declare (``metadata.camlab.exercises``), in notebook order."""
    names = (nbformat.read(str(p), as_version=4).metadata.get("camlab", {}).get("exercises")
             for p in sorted(notebooks_dir().glob("[0-9][0-9]_*.ipynb")))
    return [name for name in names if name]


def solution_notebook():
    nb = new_notebook(metadata={"camlab": dict(META), "kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                   "language": "python"}})
    nb.cells = [
        new_code_cell("import camlab; camlab.require('0.1.0')", metadata={"tags": ["nbval-ignore-output"]},
                      execution_count=1, outputs=[new_output("stream", name="stderr", text="noise\n")]),
        new_code_cell("import numpy as np\n\ndef clip01(x):\n    \"\"\"Clip.\"\"\"\n    ### BEGIN SOLUTION\n"
                      "    y = np.asarray(x)\n    return np.clip(y, 0, 1)\n    ### END SOLUTION\n\nq1.check()",
                      execution_count=2, outputs=[new_output("stream", name="stdout", text="Correct\n")],
                      metadata={"execution": {"iopub.execute_input": "2026-01-01T00:00:00Z"}}),
        new_markdown_cell("Why clip?\n\n<!-- BEGIN SOLUTION -->\nBecause maps live in [0, 1].\n"
                          "<!-- END SOLUTION -->\n\nNext."),
        new_code_cell("### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION", execution_count=3),
        new_raw_cell("### BEGIN SOLUTION (raw cells are left alone)"),
    ]
    return nb


def test_make_student_stubs_solutions_at_the_markers_indentation():
    student = make_student(solution_notebook())
    assert student.cells[1].source == ('import numpy as np\n\ndef clip01(x):\n    """Clip."""\n'
                                       "    # YOUR CODE HERE\n    raise NotImplementedError()\n\nq1.check()")
    assert student.cells[2].source == "Why clip?\n\n*Your answer here.*\n\nNext."
    assert student.cells[3].source == "# YOUR CODE HERE\nraise NotImplementedError()"
    assert student.cells[4].source == "### BEGIN SOLUTION (raw cells are left alone)"


def test_make_student_clears_outputs_keeps_metadata_and_leaves_its_input_alone():
    nb = solution_notebook()
    before = copy.deepcopy(nb)
    student = make_student(nb)
    assert nb == before
    for cell in student.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
        assert "execution" not in cell.metadata
    assert student.cells[0].metadata == {"tags": ["nbval-ignore-output"], "camlab": {
        "locked": True, "checksum": course.cell_checksum(nb.cells[0])}}
    assert student.metadata["camlab"] == {**META, "student": True}
    assert student.metadata["kernelspec"]["name"] == "python3"
    nbformat.validate(student)


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION\nx = 1\n", r"'### BEGIN SOLUTION' at line 1 is never closed"),
    ("x = 1\n### END SOLUTION", r"'### END SOLUTION' at line 2 without a '### BEGIN SOLUTION'"),
    ("### BEGIN SOLUTION\n  ### BEGIN SOLUTION\n### END SOLUTION\n### END SOLUTION",
     r"nested '### BEGIN SOLUTION' at line 2 \(the block opened at line 1"),
])
def test_unbalanced_or_nested_markers_name_the_notebook_and_cell(source, message):
    nb = solution_notebook()
    nb.cells.insert(2, new_code_cell(source))
    with pytest.raises(MarkerError, match=r"^04_cam\.ipynb, cell 2 \(code, .*" + message):
        make_student(nb, name="04_cam.ipynb")


def test_unclosed_markdown_marker_is_an_error():
    nb = new_notebook(cells=[new_markdown_cell("<!-- BEGIN SOLUTION -->\nanswer")])
    with pytest.raises(MarkerError, match=r"cell 0 \(markdown.*'<!-- BEGIN SOLUTION -->' at line 1 is never closed"):
        make_student(nb)


def write_course(folder):
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(solution_notebook(), str(folder / "00_demo.ipynb"))
    other = solution_notebook()
    other.metadata["camlab"]["id"] = "01_more"
    nbformat.write(other, str(folder / "01_more.ipynb"))
    nbformat.write(new_notebook(), str(folder / "scratch.ipynb"))  # not numbered: not part of the course
    return folder


def test_student_command_writes_checks_and_reports_out_of_sync(tmp_path, capsys):
    solutions = write_course(tmp_path / "notebooks")
    student_dir = solutions / "student"
    assert {name for name, _ in out_of_sync(solutions, student_dir)} == {"00_demo.ipynb", "01_more.ipynb"}
    assert student_main(["--check", "--solutions", str(solutions)]) == 1
    assert "00_demo.ipynb: missing" in capsys.readouterr().err

    assert student_main(["--solutions", str(solutions)]) == 0
    assert sorted(p.name for p in student_dir.iterdir()) == ["00_demo.ipynb", "01_more.ipynb"]
    assert out_of_sync(solutions, student_dir) == []
    assert student_main(["--check", "--solutions", str(solutions)]) == 0

    # an author edits a solution without regenerating: the check notices, and names the cell
    nb = nbformat.read(str(solutions / "00_demo.ipynb"), as_version=4)
    nb.cells[2].source += "\nMore text."
    nbformat.write(nb, str(solutions / "00_demo.ipynb"))
    assert out_of_sync(solutions, student_dir) == [("00_demo.ipynb", "cell 2: source differs")]
    # a learner-visible output left in a student notebook is a difference too
    student = nbformat.read(str(student_dir / "01_more.ipynb"), as_version=4)
    student.cells[1].outputs = [new_output("stream", text="solution output\n")]
    nbformat.write(student, str(student_dir / "01_more.ipynb"))
    # a student notebook whose solution is gone is stale
    nbformat.write(new_notebook(), str(student_dir / "07_gone.ipynb"))
    assert out_of_sync(solutions, student_dir) == [("00_demo.ipynb", "cell 2: source differs"),
                                                   ("01_more.ipynb", "cell 1: outputs differ"),
                                                   ("07_gone.ipynb", "no solution notebook")]
    assert student_main(["--solutions", str(solutions)]) == 0
    assert out_of_sync(solutions, student_dir) == []
    assert not (student_dir / "07_gone.ipynb").exists()


def test_student_command_refuses_bad_markers_and_writes_nothing(tmp_path, capsys):
    solutions = write_course(tmp_path / "notebooks")
    nb = nbformat.read(str(solutions / "01_more.ipynb"), as_version=4)
    nb.cells.append(new_code_cell("### END SOLUTION"))
    nbformat.write(nb, str(solutions / "01_more.ipynb"))
    assert student_main(["--solutions", str(solutions)]) == 2
    assert "01_more.ipynb, cell 5" in capsys.readouterr().err
    assert not (solutions / "student").exists()


def test_student_notebooks_in_sync():
    """The committed notebooks/student/ must equal what `python -m camlab student` generates (run it to fix)."""
    problems = out_of_sync(notebooks_dir(), notebooks_dir() / "student")
    assert problems == [], "out of sync (run `python -m camlab student`): " + "; ".join(
        f"{name}: {reason}" for name, reason in problems)


def test_release_writes_student_notebooks_and_the_instructor_readme(tmp_path, capsys):
    solutions = write_course(tmp_path / "notebooks")
    out = tmp_path / "release"
    assert release_main(["--out", str(out), "--solutions", str(solutions)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["00_demo.ipynb", "01_more.ipynb", "INSTRUCTOR_README.md"]
    released = nbformat.read(str(out / "00_demo.ipynb"), as_version=4)
    assert "raise NotImplementedError()" in released.cells[1].source
    assert "np.clip(y, 0, 1)" not in "".join(cell.source for cell in released.cells)
    assert released.metadata["camlab"]["student"] is True
    readme = (out / "INSTRUCTOR_README.md").read_text()
    for needed in ("python -m camlab grade", "one folder per learner", "results.csv", "not_attempted",
                   "runs the learners' code", "container", "unprivileged user", "no network"):
        assert needed in readme.replace("**", ""), needed

    capsys.readouterr()
    assert release_main(["--out", str(out), "--solutions", str(solutions)]) == 2
    refused = capsys.readouterr().err
    assert "is not empty" in refused and "pass --force" in refused
    assert release_main(["--out", str(out), "--solutions", str(solutions), "--force"]) == 0
    with pytest.raises(SystemExit) as exit_:
        release_main(["--out", str(tmp_path / "r2"), "--solutions", str(tmp_path / "none")])
    assert exit_.value.code == 2
    assert "argument --solutions: no such folder: " in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert release_main(["--out", str(tmp_path / "r2"), "--solutions", str(tmp_path / "empty")]) == 2
    assert capsys.readouterr().err.startswith("camlab release: error: no numbered notebooks (NN_*.ipynb) in ")


def test_strip_tf_noise_keeps_everything_else():
    text = ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
            "I0000 00:00:1795296159.755170    6525 port.cc:153] oneDNN custom operations are on.\n"
            "E0000 00:00:1795296162.558638    6525 cuda_platform.cc:52] failed call to cuInit: UNKNOWN ERROR (303)\n"
            "W0000 00:00:1795296162.558638    6525 gpu_device.cc:2342] Cannot dlopen some GPU libraries.\n"
            "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the "
            "appropriate compiler flags.\n"
            "Epoch 1/3 - a real warning from the lesson\n"
            "I0000 is not a log line\n")
    assert strip_tf_noise(text) == "Epoch 1/3 - a real warning from the lesson\nI0000 is not a log line\n"


def test_clean_outputs_keeps_the_finished_progress_bar_and_merges_streams():
    bar = ["\revaluating:   0%|     | 0/30", "\revaluating:  50%|##   | 15/30", "\revaluating: 100%|#####| 30/30"]
    cell = new_code_cell("run()", outputs=[new_output("stream", name="stdout", text=t) for t in bar]
                         + [new_output("stream", name="stdout", text="\ndone\r\n"),
                            new_output("stream", name="stderr", text="E0000 00:00:1.5 6525 cuda_platform.cc:52] x\n"),
                            new_output("execute_result", data={"text/plain": "0.5"}, execution_count=1)])
    nb = new_notebook(cells=[cell])
    course.clean_outputs(nb)
    assert [o.output_type for o in nb.cells[0].outputs] == ["stream", "execute_result"]
    assert nb.cells[0].outputs[0].text == "evaluating: 100%|#####| 30/30\ndone\n"
    assert course.finished_text("a\rb\nc\r\n") == "b\nc\n"


@pytest.mark.slow
def test_execute_notebook_stores_outputs_and_drops_tf_noise(tmp_path):
    nb = new_notebook(metadata={"camlab": dict(META)})
    nb.cells = [
        new_code_cell("import sys, os\nprint('W0000 00:00:1.5  12 gpu_device.cc:2342] noise', file=sys.stderr)\n"
                      "print('kept warning', file=sys.stderr)\nprint(os.path.basename(os.getcwd()))"),
        new_code_cell("import sys; print('I0000 00:00:17.0  9 port.cc:153] only noise', file=sys.stderr); 6 * 7"),
    ]
    (tmp_path / "run_here").mkdir()
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, str(path))
    course.execute_notebook(path, timeout=60, cwd=tmp_path / "run_here")
    done = nbformat.read(str(path), as_version=4)
    first, second = done.cells[0].outputs, done.cells[1].outputs
    assert sorted((o.output_type, o.get("name"), o.get("text")) for o in first) == [
        ("stream", "stderr", "kept warning\n"), ("stream", "stdout", "run_here\n")]
    assert [o.output_type for o in second] == ["execute_result"] and second[0].data["text/plain"] == "42"
    with pytest.raises(SystemExit) as exit_:  # checked by argparse before any notebook runs
        course.execute_main([str(tmp_path / "missing.ipynb")])
    assert exit_.value.code == 2


def test_sanitize_cfg_masks_what_varies_and_keeps_the_lesson():
    import re

    from nbval.plugin import get_sanitize_patterns

    text = (notebooks_dir() / "sanitize.cfg").read_text()
    patterns = get_sanitize_patterns(text)
    assert len(patterns) == text.count("\n[") and len(patterns) >= 10  # every section parsed (trailing spaces kept)

    def sanitize(s):
        for regex, replace in patterns:
            s = re.sub(regex, replace, s)
        return s

    masked = {
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\nkept\n": "kept\n",
        "I0000 00:00:1795296159.755170    6525 port.cc:153] oneDNN custom operations are on.\nkept": "kept",
        "<keras.src.models.functional.Functional object at 0x7f3a2c1b9d50>":
            "<keras.src.models.functional.Functional object at 0xADDRESS>",
        "grading:  45%|████▌     | 45/100 [00:01<00:02, 30.21it/s]": "PROGRESS-BAR",
        "100it [00:01, 50.00it/s]": "PROGRESS-BAR",
        "1/1 ━━━━━━━━━━━━━━━━━━━━ 0s 120ms/step - loss: 0.6931": "1/1 ━━━━━━━━━━━━━━━━━━━━ DURATION TIME/step - loss: 0.6931",
        "trained in 12.3s": "trained in DURATION",
        "CPU times: user 1.2 s, sys: 3 ms, total: 1.2 s\nWall time: 1.3 s": "TIMING\nTIMING",
        "saved to /tmp/tmpa1b2c3/model.keras\n": "saved to TMPPATH\n",
        "started 2026-11-21T21:20:59.123Z": "started TIMESTAMP",
        'Model: "functional_3"': 'Model: "functional"',
    }
    for before, after in masked.items():
        assert sanitize(before) == after, before
    for kept in ("IoU 0.81 vs 0.69", "Epoch 3/5", "(8, 7, 7, 512)", "conv5_block3_out", "10 samples",
                 "Correct: `clip01` passed all 3 cases.", "0x1f"):
        assert sanitize(kept) == kept


def test_solutions_shown_by_q_solution_are_the_notebooks_solution_blocks():
    import re

    import importlib

    from camlab.exercises import core

    assert course.solutions_path().read_text(encoding="utf-8") == course.solutions_text(), \
        "camlab/exercises/solutions.json is stale: run `python -m camlab student`"
    collected = core.notebook_solutions()
    modules = [importlib.import_module(name) for name in course_exercise_modules()]
    assert len(modules) >= 10
    for module in modules:
        source = Path(module.__file__).read_text(encoding="utf-8")
        assert not re.search(r"^[A-Z_]+_SOLUTION\b", source, re.MULTILINE), module.__name__  # one source only
        for exercise in module.EXERCISES:
            shown = exercise.solution_source()
            assert shown == collected[module.NOTEBOOK][exercise.func_name].strip("\n")
            assert shown.startswith(f"def {exercise.func_name}(") and "BEGIN SOLUTION" not in shown


def test_notebook_solutions_takes_whole_functions_without_markers():
    nb = new_notebook(cells=[new_code_cell("import cv2\n\n\ndef f(x):\n    '''doc'''\n    ### BEGIN SOLUTION\n"
                                           "    return x\n    ### END SOLUTION\n\n\nf(1)"),
                             new_code_cell("def g(x):\n    return x")])
    assert course.notebook_solutions(nb) == {"f": "def f(x):\n    '''doc'''\n    return x\n"}


def test_student_notebooks_record_a_checksum_of_every_locked_cell():
    nb = new_notebook(cells=[new_code_cell("import numpy as np"), new_code_cell("def f():\n    ### BEGIN SOLUTION\n"
                                                                               "    return 1\n    ### END SOLUTION"),
                             new_code_cell("q1.check()"), new_code_cell("# q1.hint()\n# q1.solution()"),
                             new_markdown_cell("text")])
    student = course.make_student(nb)
    marks = [cell.metadata.get("camlab") for cell in student.cells]
    assert [bool(m and m.get("locked")) for m in marks] == [True, False, True, False, False]
    assert marks[0]["checksum"] == course.cell_checksum(nb.cells[0])
    assert course.cell_checksum(new_code_cell("import numpy as np  \n")) == marks[0]["checksum"]
    assert course.cell_checksum(new_code_cell("import numpy")) != marks[0]["checksum"]


def test_release_writes_its_key_next_to_the_folder_never_inside(tmp_path, capsys):
    import json

    solutions = write_course(tmp_path / "notebooks")
    out = tmp_path / "release"
    assert release_main(["--out", str(out), "--solutions", str(solutions), "--seed", "77"]) == 0
    key = json.loads((tmp_path / "release-key.json").read_text())
    assert key["seed"] == 77 and [n["id"] for n in key["notebooks"]] == ["00_demo", "01_more"]
    assert [e["func_name"] for e in key["notebooks"][0]["exercises"]] == ["clip01", "normalize_map"]
    assert "Keep " in capsys.readouterr().out
    assert release_main(["--out", str(tmp_path / "r2"), "--solutions", str(solutions), "--key",
                         str(tmp_path / "r2" / "key.json")]) == 2
    assert "would be inside the release" in capsys.readouterr().err


def test_exam_release_leaves_out_hints_and_solutions(tmp_path):
    nb = solution_notebook()
    nb.cells.insert(2, new_code_cell("# q1.hint()\n# q1.solution()"))
    (tmp_path / "nbs").mkdir()
    nbformat.write(nb, str(tmp_path / "nbs" / "00_demo.ipynb"))
    assert release_main(["--out", str(tmp_path / "exam"), "--solutions", str(tmp_path / "nbs"), "--exam"]) == 0
    exam = nbformat.read(str(tmp_path / "exam" / "00_demo.ipynb"), as_version=4)
    text = "".join(cell.source for cell in exam.cells)
    assert "hint()" not in text and "solution()" not in text and "np.clip(y, 0, 1)" not in text
    assert exam.metadata["camlab"]["exam"] is True
    assert len(exam.cells) == len(nb.cells) - 1


def test_staged_hint_cells_are_help_cells():
    from camlab.course import is_help_cell

    assert is_help_cell(new_code_cell("q1.hint(1)\nq1.hint(2)\n# q1.solution()"))
    assert is_help_cell(new_code_cell("# q2.hint()"))
    assert not is_help_cell(new_code_cell("q1.hint(1); x = 2"))
    assert not is_help_cell(new_code_cell("q1.hint(12)"))  # two hints per exercise: one digit


def test_nbgrader_release_marks_solutions_locked_cells_and_graded_checks(tmp_path):
    solutions = write_course(tmp_path / "notebooks")
    assert release_main(["--out", str(tmp_path / "nbg"), "--solutions", str(solutions), "--format", "nbgrader"]) == 0
    nb = nbformat.read(str(tmp_path / "nbg" / "source" / "camlab" / "00_demo.ipynb"), as_version=4)
    marks = [cell.metadata["nbgrader"] for cell in nb.cells]
    assert marks[0]["locked"] and not marks[0]["solution"] and marks[0]["grade_id"] == nb.cells[0].id
    assert marks[1]["solution"] and not marks[1]["locked"]  # the source version keeps the solution
    assert "np.clip(y, 0, 1)" in nb.cells[1].source and "### BEGIN SOLUTION" in nb.cells[1].source
    assert marks[2]["solution"]  # the markdown answer
    assert all(m["schema_version"] == 3 for m in marks)
    check = course.nbgrader_notebook(new_notebook(cells=[new_code_cell("q2.check()")]), {"q2": 3}).cells[0]
    assert check.source == "_result = q2.check()\nassert _result.correct, _result.message"
    meta = check.metadata["nbgrader"]
    assert (meta["grade"], meta["points"], meta["locked"], meta["solution"]) == (True, 3, True, False)


def test_every_notebook_with_exercises_declares_its_module_so_that_the_grader_scores_them(tmp_path, capsys):
    """The grader's course list (the release key) comes from each notebook's ``metadata.camlab.exercises``: a notebook
    that imports its exercises without declaring them would have them silently left out of every grade."""
    import json
    import re

    imported = {}
    for path in sorted(notebooks_dir().glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        modules = {m for cell in nb.cells if cell.cell_type == "code"
                   for m in re.findall(r"from (camlab\.exercises\.ex\d\d) import", cell.source)}
        assert len(modules) <= 1, f"{path.name} imports several exercise modules: {sorted(modules)}"
        declared, wanted = nb.metadata.get("camlab", {}).get("exercises"), (modules.pop() if modules else None)
        assert declared == wanted, f"{path.name}: metadata.camlab.exercises is {declared!r}, its cells import {wanted!r}"
        if declared:
            imported[path.stem] = declared
    release_main(["--out", str(tmp_path / "handout")])
    capsys.readouterr()
    key = json.loads((tmp_path / "handout-key.json").read_text())
    graded = {item["id"]: item["module"] for item in key["notebooks"] if item["exercises"]}
    assert graded == imported
