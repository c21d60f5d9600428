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
import copy
import json
import re
import sys
import tempfile
from importlib import resources
from pathlib import Path

import nbformat

from camlab import cli, tfnoise
from camlab.paths import notebooks_dir

CODE_BEGIN, CODE_END = "### BEGIN SOLUTION", "### END SOLUTION"
CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
MARKDOWN_BEGIN, MARKDOWN_END = "<!-- BEGIN SOLUTION -->", "<!-- END SOLUTION -->"
MARKDOWN_STUB = "*Your answer here.*"

# Course notebooks are the numbered ones: 01_data.ipynb ... 09_comparison.ipynb.
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


def make_student(nb, name="notebook"):
    """The student version of solution notebook ``nb`` (a new notebook; ``nb`` is not changed).

    Solutions become stubs, outputs, execution counts and run timings are cleared, widget state is dropped, the
    rest of the metadata is kept, and ``metadata.camlab.student`` is set to ``True``. ``name`` (e.g. the file
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
    try:
        if args.check:
            problems = out_of_sync(solutions, student_dir)
            for name, reason in problems:
                print(f"out of sync: {student_dir / name}: {reason}", file=sys.stderr)
            if problems:
                print("Run `python -m camlab student` to regenerate them.", file=sys.stderr)
                return 1
            print(f"{student_dir}: up to date ({len(course_notebooks(solutions))} notebooks)")
            return 0
        written = write_student_notebooks(solutions, student_dir)
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


def release(out_dir, solutions_dir=None, force=False):
    """Write fresh student notebooks and the instructor README into ``out_dir``; returns the paths written.

    Refuses (``FileExistsError``) to write into a non-empty folder unless ``force``.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise FileExistsError(f"{out_dir} exists and is not a folder; choose another --out.")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not force:
        raise FileExistsError(f"{out_dir} is not empty; choose an empty or new folder, or pass --force to "
                              f"overwrite the files the release writes.")
    sources = course_notebooks(solutions_dir)
    if not sources:
        raise FileNotFoundError(f"no numbered notebooks (NN_*.ipynb) in {solutions_dir or notebooks_dir()}")
    students = [(source, student_notebook(source)) for source in sources]
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for source, nb in students:
        write_notebook(nb, out_dir / source.name)
        written.append(out_dir / source.name)
    (out_dir / INSTRUCTOR_README).write_text(instructor_readme(), encoding="utf-8")
    written.append(out_dir / INSTRUCTOR_README)
    return written


@cli.command("release")
def release_main(argv=None):
    """``python -m camlab release --out DIR [--force]``."""
    parser = cli.parser("release", description="Write the student notebooks and an instructor README to a folder.")
    parser.add_argument("--out", type=cli.output_dir, required=True, help="folder to write (must be empty or new)")
    parser.add_argument("--force", action="store_true", help="write into a non-empty folder, overwriting")
    parser.add_argument("--solutions", type=cli.existing_dir, default=None,
                        help="solution notebooks folder (default notebooks/)")
    args = parser.parse_args(argv)
    try:
        written = release(args.out, args.solutions, force=args.force)
    except (FileExistsError, FileNotFoundError, *BROKEN_SOLUTION) as error:
        raise cli.CommandError(error) from error
    for path in written:
        print(f"wrote {path}")
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


# A kernel's launcher: resource limits first (inherited by anything the kernel starts), then the IPython kernel.
_LAUNCHER = """\
import resource, sys
for _name, _mb in (("RLIMIT_AS", int(sys.argv.pop(1))), ("RLIMIT_FSIZE", int(sys.argv.pop(1)))):
    if _mb > 0:
        _which = getattr(resource, _name)
        _hard = resource.getrlimit(_which)[1]
        _limit = _mb * 1024 * 1024 if _hard == resource.RLIM_INFINITY else min(_mb * 1024 * 1024, _hard)
        resource.setrlimit(_which, (_limit, _limit))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
from ipykernel import kernelapp
kernelapp.launch_new_instance()
"""


def write_kernelspec(folder, name, memory_mb=0, file_mb=0, env=None):
    """Write kernelspec ``folder/name`` for THIS Python's IPython kernel (whatever kernels are installed elsewhere).

    ``memory_mb`` limits the kernel's address space (``RLIMIT_AS``: a bigger allocation raises MemoryError) and
    ``file_mb`` the size of any file it writes (``RLIMIT_FSIZE``); 0 means no limit. Returns ``folder``, to give to
    ``jupyter_client.kernelspec.KernelSpecManager(kernel_dirs=[folder])``.
    """
    spec_dir = Path(folder) / name
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-c", _LAUNCHER, str(int(memory_mb)), str(int(file_mb)), "-f", "{connection_file}"],
        "display_name": f"camlab ({name})",
        "language": "python",
        "env": {"TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1))
    return Path(folder)


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

    path = Path(path)
    nb = read_notebook(path)
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
