"""One source, two versions: student notebooks generated from the solution notebooks, the release, and execution.

The solution notebooks (``notebooks/NN_topic.ipynb``) are the one source. A solution sits between marker lines:

- in a code cell, ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` becomes, at the BEGIN marker's indentation::

      # YOUR CODE HERE
      raise NotImplementedError()

- in a markdown cell, ``<!-- BEGIN SOLUTION -->`` ... ``<!-- END SOLUTION -->`` becomes ``*Your answer here.*``.

``make_student`` applies that and clears every output; ``python -m camlab student`` regenerates
``notebooks/student/`` (``--check`` only reports what is out of date); ``python -m camlab release --out DIR`` writes
the student notebooks and an instructor README for handing out; ``execute_notebook`` runs a notebook with nbclient
and stores its outputs without TensorFlow's C++ start-up noise.
"""
from __future__ import annotations

import argparse
import ast
import copy
import hashlib
import json
import re
import sys
import tempfile
import textwrap
from importlib import resources
from pathlib import Path

import nbformat

from camlab import cli, tfnoise
from camlab.paths import notebooks_dir

CODE_BEGIN, CODE_END = "### BEGIN SOLUTION", "### END SOLUTION"
CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
MARKDOWN_BEGIN, MARKDOWN_END = "<!-- BEGIN SOLUTION -->", "<!-- END SOLUTION -->"
MARKDOWN_STUB = "*Your answer here.*"

# Course notebooks are the numbered ones: 01_data.ipynb ... 10_real_photos.ipynb.
NUMBERED = re.compile(r"^\d{2}_[^/]*\.ipynb$")


class MarkerError(ValueError):
    """Solution markers that do not pair up (a BEGIN without END, an END without BEGIN, or nested blocks)."""


# --------------------------------------------------------------------------------------------------------------
# Solution blocks -> stubs.

def _stub_source(source, begin, end, stub_lines, where, keep_indent):
    """Replace every ``begin``..``end`` block of lines in ``source`` with ``stub_lines``.

    Marker lines are recognised after stripping surrounding whitespace; ``keep_indent`` puts the stub at the BEGIN
    marker's indentation (code). Raises ``MarkerError`` naming ``where`` when the markers do not pair up.
    """
    out, opened_at, indent = [], None, ""
    lines = source.split("\n")
    for number, line in enumerate(lines, 1):
        marker = line.strip()
        if marker == begin:
            if opened_at is not None:
                raise MarkerError(f"{where}: nested {begin!r} at line {number} (the block opened at line {opened_at} "
                                  f"is not closed); put {end!r} before opening another block.")
            opened_at, indent = number, line[: len(line) - len(line.lstrip())]
            out.extend((indent if keep_indent else "") + stub for stub in stub_lines)
        elif marker == end:
            if opened_at is None:
                raise MarkerError(f"{where}: {end!r} at line {number} without a {begin!r} before it; "
                                  f"add the BEGIN line or remove this one.")
            opened_at = None
        elif opened_at is None:
            out.append(line)
    if opened_at is not None:
        raise MarkerError(f"{where}: {begin!r} at line {opened_at} is never closed; add a line {end!r} "
                          f"after the solution.")
    return "\n".join(out)


def stub_cell(cell, where="cell"):
    """A copy of ``cell`` with its solution blocks replaced by stubs (raw cells and unmarked cells unchanged)."""
    cell = copy.deepcopy(cell)
    if cell.cell_type == "code":
        cell.source = _stub_source(cell.source, CODE_BEGIN, CODE_END, CODE_STUB, where, keep_indent=True)
    elif cell.cell_type == "markdown":
        cell.source = _stub_source(cell.source, MARKDOWN_BEGIN, MARKDOWN_END, (MARKDOWN_STUB,), where,
                                   keep_indent=False)
    return cell


# Cells a learner may change although they hold no solution: the ones that only ask for help (``q1.hint()``,
# ``q1.hint(2)``, ``q1.solution()``).
_HELP_LINE = re.compile(r"^#?\s*q\d+\.(hint\(\s*\d?\s*\)|solution\(\))\s*$")


def is_locked(cell):
    """Whether the learner must leave ``cell`` (of a solution notebook) as it is: every code cell without a
    solution block, except cells that only call (or show, commented out) ``qN.hint()``/``qN.solution()``."""
    return cell.cell_type == "code" and CODE_BEGIN not in cell.source and not is_help_cell(cell)


def cell_checksum(cell):
    """SHA-256 of a cell's kind and source (trailing whitespace ignored): what a locked cell must keep."""
    text = cell.cell_type + "\n" + "\n".join(line.rstrip() for line in cell.source.strip().splitlines())
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def make_student(nb, name="notebook"):
    """The student version of solution notebook ``nb`` (a new notebook; ``nb`` is not changed).

    Solutions become stubs, outputs, execution counts and run timings are cleared, widget state is dropped, the
    rest of the metadata is kept, and ``metadata.camlab.student`` is set to ``True``. Locked cells (``is_locked``)
    get ``metadata.camlab = {"locked": True, "checksum": cell_checksum(cell)}`` (the grader checks them against
    its own copy, not this record). ``name`` (e.g. the file
    name) is used in error messages about markers.
    """
    student = copy.deepcopy(nb)
    for index, cell in enumerate(student.cells):
        where = f"{name}, cell {index} ({cell.cell_type}, starting {cell.source.strip()[:40]!r})"
        stubbed = stub_cell(cell, where)
        if stubbed.cell_type == "code":
            stubbed.outputs = []
            stubbed.execution_count = None
        stubbed.metadata.pop("execution", None)  # nbclient's run timestamps
        if is_locked(cell):
            stubbed.metadata["camlab"] = {"locked": True, "checksum": cell_checksum(cell)}
        student.cells[index] = stubbed
    student.metadata.pop("widgets", None)
    student.metadata.setdefault("camlab", {})
    student.metadata["camlab"]["student"] = True
    return student


def read_notebook(path):
    """Read a notebook (any nbformat 4 minor version) as a ``NotebookNode``."""
    try:
        return nbformat.read(str(path), as_version=4)
    except nbformat.reader.NotJSONError as error:  # its message quotes the text, not the file
        raise nbformat.reader.NotJSONError(f"{path} is not valid notebook JSON ({_first_line(error)})") from None


# What nbformat.read raises on a file that is not a notebook (text, JSON of another shape).
UNREADABLE = (ValueError, UnicodeDecodeError, AttributeError, KeyError, nbformat.ValidationError)
# What writing student notebooks raises on a broken solution notebook.
BROKEN_SOLUTION = (MarkerError, nbformat.reader.NotJSONError, nbformat.ValidationError)


def notebook_arg(text):
    """argparse type: an existing ``.ipynb`` file that nbformat can read (the Path), else the reason."""
    path = cli.existing_file(text)
    if path.suffix != ".ipynb":
        raise argparse.ArgumentTypeError(f"{text} is not a notebook: pass .ipynb files")
    try:
        read_notebook(path)
    except UNREADABLE as error:
        reason = _first_line(error)
        if str(path) not in reason:
            reason = f"{text} is not a readable notebook ({reason})"
        raise argparse.ArgumentTypeError(f"{reason}; repair it in a text editor or restore it (git checkout -- "
                                         f"{text})") from None
    return path


def _first_line(error):
    text = str(error).strip().splitlines()
    return text[0][:200] if text else ""


def write_notebook(nb, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))


def course_notebooks(solutions_dir=None):
    """The numbered solution notebooks (``NN_*.ipynb``) in ``solutions_dir`` (default ``notebooks/``), sorted."""
    folder = Path(solutions_dir or notebooks_dir())
    return sorted(p for p in folder.glob("*.ipynb") if NUMBERED.match(p.name))


def student_notebook(path):
    """The student version of the solution notebook at ``path``."""
    path = Path(path)
    return make_student(read_notebook(path), name=str(path))


# --------------------------------------------------------------------------------------------------------------
# The solutions q.solution() shows: collected from the notebooks' solution blocks (the one source).

def notebook_solutions(nb, name="notebook"):
    """``{function name: source}`` of every top-level function of ``nb`` that holds a code solution block: the
    whole function, marker lines dropped (what ``q.solution()`` shows)."""
    found = {}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or CODE_BEGIN not in cell.source:
            continue
        lines = cell.source.split("\n")
        try:
            tree = ast.parse(cell.source)
        except SyntaxError as error:
            raise MarkerError(f"{name}, cell {index}: the solution cell is not valid Python ({error})") from None
        markers = [n for n, line in enumerate(lines, 1) if line.strip() == CODE_BEGIN]
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                if any(first <= m <= node.end_lineno for m in markers):
                    body = [line for line in lines[first - 1: node.end_lineno]
                            if line.strip() not in (CODE_BEGIN, CODE_END)]
                    found[node.name] = textwrap.dedent("\n".join(body)).strip("\n") + "\n"
    return found


def collect_solutions(solutions_dir=None):
    """``{notebook id: {function name: source}}`` over the course notebooks (those with ``metadata.camlab.id``)."""
    collected = {}
    for path in course_notebooks(solutions_dir):
        nb = read_notebook(path)
        notebook_id = nb.metadata.get("camlab", {}).get("id")
        solutions = notebook_solutions(nb, name=str(path))
        if notebook_id and solutions:
            collected[notebook_id] = solutions
    return collected


def solutions_path():
    """Where ``camlab student`` writes the collected solutions: ``camlab/exercises/solutions.json``."""
    return Path(__file__).resolve().parent / "exercises" / "solutions.json"


def solutions_text(solutions_dir=None):
    return json.dumps(collect_solutions(solutions_dir), indent=1, sort_keys=True, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------------------------------------------
# Keeping notebooks/student/ in step with the solutions.

def _canonical(nb):
    """What must agree between a committed student notebook and a fresh one: cells' kind, source, metadata and
    outputs, and the notebook metadata (not cell ids, JSON layout or nbformat minor version)."""
    cells = []
    for cell in nb.cells:
        entry = {"cell_type": cell.cell_type, "source": cell.source, "metadata": dict(cell.metadata)}
        if cell.cell_type == "code":
            entry["outputs"] = cell.get("outputs", [])
            entry["execution_count"] = cell.get("execution_count")
        cells.append(entry)
    return {"cells": cells, "metadata": nb.metadata}


_CELL_PARTS = {"cell_type": "cell type differs", "source": "source differs", "metadata": "metadata differs",
               "outputs": "outputs differ", "execution_count": "execution count differs"}


def _difference(fresh, committed):
    a, b = _canonical(fresh), _canonical(committed)
    if a["metadata"] != b["metadata"]:
        return "notebook metadata differs"
    if len(a["cells"]) != len(b["cells"]):
        return f"{len(b['cells'])} cells, expected {len(a['cells'])}"
    for index, (x, y) in enumerate(zip(a["cells"], b["cells"])):
        for key, what in _CELL_PARTS.items():
            if x.get(key) != y.get(key):
                return f"cell {index}: {what}"
    return None


def out_of_sync(solutions_dir=None, student_dir=None):
    """Student notebooks that differ from the ones generated fresh from the solutions, as ``(name, reason)`` pairs.

    Reasons: ``missing``, ``no solution notebook`` (a stale student file), or the first difference found.
    An empty list means ``student_dir`` is up to date.
    """
    solutions_dir = Path(solutions_dir or notebooks_dir())
    student_dir = Path(student_dir or solutions_dir / "student")
    problems = []
    sources = course_notebooks(solutions_dir)
    for source in sources:
        target = student_dir / source.name
        if not target.exists():
            problems.append((source.name, "missing"))
            continue
        try:
            reason = _difference(student_notebook(source), read_notebook(target))
        except nbformat.reader.NotJSONError as error:
            reason = f"not a readable notebook ({error})"
        if reason:
            problems.append((source.name, reason))
    names = {p.name for p in sources}
    problems += [(p.name, "no solution notebook") for p in course_notebooks(student_dir) if p.name not in names]
    return problems


def write_student_notebooks(solutions_dir=None, student_dir=None):
    """Write the student version of every numbered solution notebook; remove stale numbered student notebooks.

    Returns the paths written.
    """
    solutions_dir = Path(solutions_dir or notebooks_dir())
    student_dir = Path(student_dir or solutions_dir / "student")
    sources = course_notebooks(solutions_dir)
    students = [(source, student_notebook(source)) for source in sources]  # all markers checked before writing
    written = []
    for source, nb in students:
        write_notebook(nb, student_dir / source.name)
        written.append(student_dir / source.name)
    names = {p.name for p in sources}
    for stale in course_notebooks(student_dir):
        if stale.name not in names:
            stale.unlink()
    return written


@cli.command("student")
def student_main(argv=None):
    """``python -m camlab student [--check]``: regenerate (or only check) ``notebooks/student/``."""
    parser = cli.parser("student", description="Regenerate the student notebooks from the solution notebooks.")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 and list the student notebooks that are out of date")
    parser.add_argument("--solutions", type=cli.existing_dir, default=None,
                        help="solution notebooks folder (default notebooks/)")
    parser.add_argument("--out", type=cli.output_dir, default=None,
                        help="student notebooks folder (default SOLUTIONS/student)")
    args = parser.parse_args(argv)
    solutions = args.solutions or notebooks_dir()
    student_dir = args.out or solutions / "student"
    collected = solutions_path() if args.solutions is None else None  # the package's, for its own notebooks
    try:
        if args.check:
            problems = out_of_sync(solutions, student_dir)
            if collected is not None and (not collected.exists() or
                                          collected.read_text(encoding="utf-8") != solutions_text(solutions)):
                problems.append((str(collected), "differs from the notebooks' solution blocks"))
            for name, reason in problems:
                print(f"out of sync: {student_dir / name}: {reason}", file=sys.stderr)
            if problems:
                print("Run `python -m camlab student` to regenerate them.", file=sys.stderr)
                return 1
            print(f"{student_dir}: up to date ({len(course_notebooks(solutions))} notebooks)")
            return 0
        written = write_student_notebooks(solutions, student_dir)
        if collected is not None:
            collected.write_text(solutions_text(solutions), encoding="utf-8")
            written.append(collected)
    except BROKEN_SOLUTION as error:
        raise cli.CommandError(error) from error
    for path in written:
        print(f"wrote {path}")
    if not written:
        print(f"no numbered notebooks (NN_*.ipynb) in {solutions}; nothing to do")
    return 0


# --------------------------------------------------------------------------------------------------------------
# The release: what an instructor hands out.

INSTRUCTOR_README = "INSTRUCTOR_README.md"


def instructor_readme():
    """The instructor README's text (``camlab/templates/INSTRUCTOR_README.md``)."""
    return resources.files("camlab").joinpath("templates", INSTRUCTOR_README).read_text(encoding="utf-8")


def is_help_cell(cell):
    """A code cell that only calls (or shows, commented out) ``qN.hint()``, ``qN.hint(n)`` or ``qN.solution()``."""
    lines = [line.strip() for line in cell.source.splitlines() if line.strip()] if cell.cell_type == "code" else []
    return bool(lines) and all(_HELP_LINE.match(line) for line in lines)


def exam_notebook(student):
    """An exam version of a student notebook: no hint or solution cells, ``metadata.camlab.exam = True``."""
    exam = copy.deepcopy(student)
    exam.cells = [cell for cell in exam.cells if not is_help_cell(cell)]
    exam.metadata["camlab"]["exam"] = True
    return exam


_CHECK_LINE = re.compile(r"^(q\d+)\.check\(\)\s*$")


def nbgrader_notebook(nb, points=None):
    """The nbgrader *source* version of solution notebook ``nb`` (nbgrader makes the student version itself):
    solution cells marked ``solution``, every locked cell ``locked`` (read-only), and each ``qN.check()`` cell an
    autograded test worth ``points[qN]`` (default 1) that fails when the check is not correct. Grade ids are
    the cell ids."""
    out = copy.deepcopy(nb)
    for index, cell in enumerate(out.cells):
        grade_id = cell.get("id") or f"cell-{index}"
        meta = {"grade": False, "grade_id": grade_id, "locked": False, "schema_version": 3, "solution": False,
                "task": False}
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            check = _CHECK_LINE.match(cell.source.strip())
            if check:
                name = check.group(1)
                cell.source = f"_result = {name}.check()\nassert _result.correct, _result.message"
                meta.update(grade=True, locked=True, points=(points or {}).get(name, 1))
            elif CODE_BEGIN in cell.source:
                meta["solution"] = True
            elif is_locked(cell):
                meta["locked"] = True
        elif cell.cell_type == "markdown":
            meta["solution"] = MARKDOWN_BEGIN in cell.source
            meta["locked"] = not meta["solution"]
        cell.metadata["nbgrader"] = meta
    out.metadata.pop("widgets", None)
    return out


def _exercise_points(module_name):
    if not module_name:
        return {}
    import importlib

    module = importlib.import_module(module_name)
    return {name: value.points for name, value in vars(module).items()
            if re.fullmatch(r"q\d+", name) and hasattr(value, "points")}


def default_key_path(out_dir):
    """Where ``release`` puts the key when not told: next to the release folder, never inside it."""
    out_dir = Path(out_dir).resolve()
    return out_dir.parent / f"{out_dir.name}-key.json"


def release(out_dir, solutions_dir=None, force=False, exam=False, format="camlab", key_path=None, seed=None):
    """Write a release into ``out_dir``; returns the paths written.

    ``format="camlab"``: fresh student notebooks (``exam``: without hints and solutions) and the instructor
    README; ``format="nbgrader"``: an nbgrader source tree ``source/camlab/NN_*.ipynb`` (``nbgrader_notebook``).
    Either way the release key (hidden-case seed, exercise list: ``camlab.grading.key``) goes to ``key_path``
    (default ``default_key_path(out_dir)``), outside the folder handed out. Refuses (``FileExistsError``) to
    write into a non-empty folder unless ``force``.
    """
    from camlab.grading.key import make_key, write_key

    out_dir = Path(out_dir)
    if format not in ("camlab", "nbgrader"):
        raise ValueError(f"unknown release format {format!r}; use 'camlab' or 'nbgrader'.")
    if out_dir.exists() and not out_dir.is_dir():
        raise FileExistsError(f"{out_dir} exists and is not a folder; choose another --out.")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not force:
        raise FileExistsError(f"{out_dir} is not empty; choose an empty or new folder, or pass --force to "
                              f"overwrite the files the release writes.")
    key_path = Path(key_path) if key_path else default_key_path(out_dir)
    if key_path.resolve().is_relative_to(out_dir.resolve()):
        raise ValueError(f"the key {key_path} would be inside the release {out_dir}, which learners get; "
                         f"put it elsewhere (--key).")
    sources = course_notebooks(solutions_dir)
    if not sources:
        raise FileNotFoundError(f"no numbered notebooks (NN_*.ipynb) in {solutions_dir or notebooks_dir()}")
    if format == "nbgrader":
        made = []
        for source in sources:
            nb = read_notebook(source)
            make_student(nb, name=str(source))  # checks the markers
            made.append((Path("source") / "camlab" / source.name,
                         nbgrader_notebook(nb, _exercise_points(nb.metadata.get("camlab", {}).get("exercises")))))
    else:
        made = [(Path(source.name), student_notebook(source)) for source in sources]
        if exam:
            made = [(name, exam_notebook(nb)) for name, nb in made]
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, nb in made:
        write_notebook(nb, out_dir / name)
        written.append(out_dir / name)
    (out_dir / INSTRUCTOR_README).write_text(instructor_readme(), encoding="utf-8")
    written.append(out_dir / INSTRUCTOR_README)
    key = make_key([(name.name, nb.metadata.get("camlab", {})) for name, nb in made], seed=seed, exam=exam)
    written.append(write_key(key, key_path))
    return written


@cli.command("release")
def release_main(argv=None):
    """``python -m camlab release --out DIR [--force] [--exam] [--format camlab|nbgrader] [--key FILE] [--seed N]``."""
    parser = cli.parser("release", description="Write the student notebooks and an instructor README to a folder, "
                                               "and the release key (hidden-case seed) next to it.")
    parser.add_argument("--out", type=cli.output_dir, required=True, help="folder to write (must be empty or new)")
    parser.add_argument("--force", action="store_true", help="write into a non-empty folder, overwriting")
    parser.add_argument("--solutions", type=cli.existing_dir, default=None,
                        help="solution notebooks folder (default notebooks/)")
    parser.add_argument("--exam", action="store_true", help="leave out the hint and solution cells")
    parser.add_argument("--format", choices=("camlab", "nbgrader"), default="camlab",
                        help="camlab student notebooks (default) or an nbgrader source tree")
    parser.add_argument("--key", type=Path, default=None, help="where to write the key (default OUT-key.json)")
    parser.add_argument("--seed", type=int, default=None, help="hidden-case seed for the key (default: random)")
    args = parser.parse_args(argv)
    if args.exam and args.format == "nbgrader":
        parser.error("--exam is for the camlab format (nbgrader's own release removes solutions)")
    try:
        written = release(args.out, args.solutions, force=args.force, exam=args.exam, format=args.format,
                          key_path=args.key, seed=args.seed)
    except (FileExistsError, FileNotFoundError, ValueError, *BROKEN_SOLUTION) as error:
        raise cli.CommandError(error) from error
    for path in written:
        print(f"wrote {path}")
    print(f"Keep {written[-1]} to yourself: `camlab grade --key {written[-1]}` draws the hidden cases from it.")
    return 0


# --------------------------------------------------------------------------------------------------------------
# Executing notebooks (authors store outputs in the solution notebooks with this).

# TensorFlow/XLA's C++ start-up logging (absl): not part of the lesson, different on every machine (camlab.tfnoise).
TF_NOISE = tfnoise.TF_NOISE
strip_tf_noise = tfnoise.strip_tf_noise


def finished_text(text):
    """A stream's text as a terminal (and JupyterLab) shows it: on each line, what follows its last carriage return.

    A text progress bar redraws itself with ``\\r``; a saved notebook then keeps only the finished bar.
    """
    lines = text.split("\n")
    return "\n".join(line.rstrip("\r").rsplit("\r", 1)[-1] for line in lines)


def clean_outputs(nb):
    """Tidy the stored outputs of ``nb`` in place: consecutive stream outputs of one stream are merged and keep
    only what a terminal would show (``finished_text``: progress bars end finished), TensorFlow's start-up
    noise is removed from stderr, and emptied stderr outputs are dropped."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        merged = []
        for output in cell.get("outputs", []):
            last = merged[-1] if merged else None
            if (output.get("output_type") == "stream" and last is not None
                    and last.get("output_type") == "stream" and last.get("name") == output.get("name")):
                last.text += output.text
            else:
                merged.append(output)
        outputs = []
        for output in merged:
            if output.get("output_type") == "stream":
                output.text = finished_text(output.text)
                if output.get("name") == "stderr":
                    output.text = strip_tf_noise(output.text)
                    if not output.text.strip():
                        continue
            outputs.append(output)
        cell.outputs = outputs
    return nb


def execute_notebook(path, timeout=600, cwd=None, inplace=True, kernel_name=None):
    """Run every cell of the notebook at ``path`` in a fresh kernel, clean its outputs.

    The kernel is this Python environment's (``kernel_name=None``) or the installed kernelspec named
    ``kernel_name``. ``timeout`` is per cell, in seconds; ``cwd`` defaults to the notebook's folder. With
    ``inplace`` the executed notebook is saved over ``path``. Returns the executed notebook. A failing cell raises
    nbclient's ``CellExecutionError`` (nothing is saved then).
    """
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpecManager
    from nbclient import NotebookClient

    from camlab.grading.kernels import write_kernelspec

    path = Path(path)
    nb = read_notebook(path)
    # widget state saved by an earlier run (e.g. TFDS's build bars) describes widgets this run never made, and
    # names that run's paths: drop it, so only what this run shows is stored (camlab's own bars are text)
    nb.metadata.pop("widgets", None)
    with tempfile.TemporaryDirectory(prefix="camlab-kernel-") as kernels:
        if kernel_name is None:
            km = AsyncKernelManager(kernel_name="camlab-python", kernel_spec_manager=KernelSpecManager(
                kernel_dirs=[str(write_kernelspec(kernels, "camlab-python"))]))
        else:
            km = AsyncKernelManager(kernel_name=kernel_name)
        client = NotebookClient(nb, km=km, timeout=timeout, record_timing=False, shutdown_kernel="immediate",
                                resources={"metadata": {"path": str(cwd or path.parent)}})
        client.execute(cleanup_kc=True)
    clean_outputs(nb)
    if inplace:
        write_notebook(nb, path)
    return nb


@cli.command("execute")
def execute_main(argv=None):
    """``python -m camlab execute NOTEBOOK... [--timeout S]``: run notebooks and store their outputs."""
    parser = cli.parser("execute", description="Run notebooks in a fresh kernel and store their outputs in place.")
    parser.add_argument("notebooks", nargs="+", type=notebook_arg)
    parser.add_argument("--timeout", type=cli.positive_int, default=600,
                        help="seconds allowed per cell (default 600)")
    args = parser.parse_args(argv)
    from nbclient.exceptions import CellExecutionError

    failed = 0
    for path in args.notebooks:
        try:
            execute_notebook(path, timeout=args.timeout)
        except CellExecutionError as error:
            print(f"camlab execute: {path} failed; nothing saved:\n{error}", file=sys.stderr)
            failed += 1
            continue
        print(f"executed {path}")
    return 1 if failed else 0
