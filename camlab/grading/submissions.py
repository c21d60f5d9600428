"""Finding the submitted notebooks and telling which course notebook each one is, without trusting them."""
from __future__ import annotations

import importlib
import importlib.util
import re
from pathlib import Path

import nbformat

from camlab import course
from camlab.grading.text import clip

MODULE_NAME = re.compile(r"^camlab\.exercises\.ex\d{2,3}$")  # the only modules a submission may name
IMPORT_LINE = re.compile(r"^\s*(?:from\s+(camlab\.exercises\.ex\d{2,3})\s+import\b|import\s+(camlab\.exercises\.ex\d{2,3})\b)",
                         re.MULTILINE)
FILE_NUMBER = re.compile(r"^(\d{2})(?:[_\- .]|$)")
MAX_NOTEBOOK_MB = 100


def find_submissions(root):
    """``{learner: [notebook paths]}``: one folder per learner, or notebooks at the top (learner = file stem)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder of submissions; give the folder that holds one folder "
                                f"per learner (or the learners' notebooks).")
    learners = {}
    for entry in sorted(root.iterdir()):
        if entry.name.startswith(".") or entry.is_symlink():  # a link may point at another learner's work
            continue
        if entry.is_dir():
            notebooks = sorted(p for p in entry.rglob("*.ipynb")
                               if p.is_file() and not p.is_symlink() and ".ipynb_checkpoints" not in p.parts)
            learners.setdefault(entry.name, []).extend(notebooks)
        elif entry.suffix == ".ipynb" and entry.is_file() and not entry.is_symlink():
            learners.setdefault(entry.stem, []).append(entry)
    return learners


def read_submission(path):
    """``(notebook or None, problem or None)``: a learner's file, read without trusting it."""
    size = Path(path).stat().st_size
    if size > MAX_NOTEBOOK_MB * 2**20:
        return None, f"the file is {size / 2**20:.0f} MB, more than a notebook needs ({MAX_NOTEBOOK_MB} MB at most)"
    data = Path(path).read_bytes()
    if not data.strip():
        return None, "the file is empty"
    try:
        return nbformat.reads(data.decode("utf-8", errors="replace"), as_version=4), None
    except Exception as error:  # not JSON, not a notebook, an unknown version...
        return None, f"not a readable notebook ({type(error).__name__}: {clip(str(error), 200)})"


def identify(path, nb):
    """The exercises module of a submission (``camlab.exercises.exNN``) or None, and how it was found."""
    meta = nb.metadata.get("camlab", {}) if nb is not None else {}
    module = meta.get("exercises") if isinstance(meta, dict) else None
    if isinstance(module, str) and MODULE_NAME.match(module) and module_exists(module):
        return module, "metadata"
    if nb is not None:
        for cell in nb.cells:
            if cell.get("cell_type") == "code" and isinstance(cell.get("source"), str):
                for match in IMPORT_LINE.finditer(cell.source):
                    found = match.group(1) or match.group(2)
                    if module_exists(found):
                        return found, "import line"
    number = FILE_NUMBER.match(Path(path).name)
    if number and module_exists(f"camlab.exercises.ex{number.group(1)}"):
        return f"camlab.exercises.ex{number.group(1)}", "file name"
    return None, None


def module_exists(name):
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def exercise_keys(module_name):
    """``(notebook id, [(attribute, func_name), ...])`` for an exercises module (ours, so safe to import)."""
    module = importlib.import_module(module_name)
    named = {id(value): name for name, value in vars(module).items() if not name.startswith("_")}
    pairs = []
    for number, exercise in enumerate(getattr(module, "EXERCISES", []), 1):
        attribute = named.get(id(exercise), f"q{number}")
        pairs.append((attribute if attribute != "EXERCISES" else f"q{number}", exercise.func_name))
    return _notebook_id(module_name, module), pairs


def _notebook_id(module_name, module):
    """The course notebook's id for column names: the solution notebooks' metadata, else ``NOTEBOOK``, else exNN."""
    for path in course.course_notebooks():
        try:
            meta = course.read_notebook(path).metadata.get("camlab", {})
        except Exception:  # an author's half-saved notebook must not stop grading
            continue
        if meta.get("exercises") == module_name and meta.get("id"):
            return str(meta["id"])
    return str(getattr(module, "NOTEBOOK", module_name.rsplit(".", 1)[-1]))
