"""Locked cells: the grader runs the instructor's version of every cell the learner must not change.

``camlab student`` marks each locked cell (``camlab.course.is_locked``: the checks, the set-up) with a checksum.
The grader does not trust that record: it rebuilds the instructor's student notebook from the solution notebook,
finds each locked cell in the submission by its cell id, reports the ones edited or deleted, and runs the
instructor's source in their place (a deleted one goes back after the cell that preceded it).
"""
from __future__ import annotations

import copy
import functools

from camlab import course
from camlab.grading.submissions import read_submission


@functools.lru_cache(maxsize=32)
def _instructor_notebook(module_name):
    for path in course.course_notebooks():
        try:
            nb = course.read_notebook(path)
        except Exception:  # an author's half-saved notebook must not stop grading
            continue
        if nb.metadata.get("camlab", {}).get("exercises") == module_name:
            return course.make_student(nb, name=str(path))
    return None


def instructor_notebook(module_name):
    """A copy of the instructor's student notebook for exercises module ``module_name`` (None: no course
    notebook uses it)."""
    nb = _instructor_notebook(module_name)
    return copy.deepcopy(nb) if nb is not None else None


def restore_locked(submitted, instructor):
    """``(notebook to run, changes)``: ``submitted`` with every locked cell of ``instructor`` in its
    instructor's version; ``changes`` lists ``{"cell": id, "change": "edited" | "deleted", "source": start}``."""
    locked = {cell.get("id"): cell for cell in instructor.cells
              if cell.get("metadata", {}).get("camlab", {}).get("locked") and cell.get("id")}
    changes, out, seen = [], [], set()
    for cell in submitted.cells:
        cell_id = cell.get("id") if isinstance(cell.get("id"), str) else None
        if cell_id in locked and cell_id not in seen:
            seen.add(cell_id)
            mine = locked[cell_id]
            if cell.get("cell_type") != "code" or not isinstance(cell.get("source"), str) or \
                    course.cell_checksum(cell) != mine["metadata"]["camlab"]["checksum"]:
                changes.append({"cell": cell_id, "change": "edited", "source": mine.source.strip()[:60]})
            out.append(copy.deepcopy(mine))
        elif cell_id in locked:  # a copy of a locked cell: not the learner's to add twice
            changes.append({"cell": cell_id, "change": "duplicated", "source": locked[cell_id].source.strip()[:60]})
        else:
            out.append(cell)
    ids = [cell.get("id") for cell in instructor.cells]
    for position, cell in enumerate(instructor.cells):
        cell_id = cell.get("id")
        if cell_id not in locked or cell_id in seen:
            continue
        changes.append({"cell": cell_id, "change": "deleted", "source": cell.source.strip()[:60]})
        before = {i for i in ids[:position]}
        at = max((n + 1 for n, c in enumerate(out) if c.get("id") in before), default=0)
        out.insert(at, copy.deepcopy(cell))
        seen.add(cell_id)
    result = copy.deepcopy(submitted)
    result.cells = out
    return result, changes


def locked_notebook(path, module_name):
    """``(notebook to run or None, changes)`` for the submission at ``path``: None when it cannot be read (the
    grader reports that), the submission itself when no course notebook holds ``module_name``'s exercises."""
    nb, _ = read_submission(path)
    if nb is None:
        return None, []
    instructor = instructor_notebook(module_name)
    if instructor is None:
        return nb, []
    return restore_locked(nb, instructor)
