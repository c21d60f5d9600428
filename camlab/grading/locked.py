"""Locked cells: the grader runs the instructor's version of every cell the learner must not change.

``camlab student`` marks each locked cell (``camlab.course.is_locked``: the checks, the set-up) with a checksum.
The grader does not trust that record: it rebuilds the instructor's student notebook from the solution notebook,
finds each locked cell in the submission by its cell id, reports the ones edited or deleted, and runs the
instructor's source in their place (a deleted one goes back after the cell that preceded it).

The course author may tag a locked cell ``grading-skip`` (``SKIP_TAG``, in the solution notebook's cell
metadata ``tags``): a demonstration the verdicts do not need (training, a sweep, a figure). ``skipped_cells``
finds them by cell id in the instructor's notebook only, so a learner can neither skip a cell nor make the
grader skip one; ``defined_names`` tells which names they define (the grader re-runs the whole notebook when a
learner's code misses one of them: see ``judge.grade_notebook``).
"""
from __future__ import annotations

import ast
import copy
import functools
import re

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


# --------------------------------------------------------------------------------------------------------------
# Cells grading need not run.

SKIP_TAG = "grading-skip"
# a demonstration cell the course author keeps running on purpose (its effect is needed without a name)
RUN_TAG = "grading-run"
# cells that feed the notebook's log of checks (or pick the learner's function): never skipped, whatever the tag
_CHECKS = re.compile(r"\bq\d+\.(check|use)\s*\(")


def is_skippable(cell):
    """Whether the course author let grading skip ``cell`` (a cell of the INSTRUCTOR's notebook): a locked code
    cell tagged ``SKIP_TAG`` (``metadata.tags``) that does not call ``qN.check()`` or ``qN.use()``."""
    meta = cell.get("metadata", {})
    tags = meta.get("tags") or []
    return (cell.get("cell_type") == "code" and bool(meta.get("camlab", {}).get("locked"))
            and isinstance(tags, list) and SKIP_TAG in tags and not _CHECKS.search(cell.get("source", "")))


def skipped_cells(nb, module_name, preview=()):
    """Indices of the cells of ``nb`` (as ``restore_locked`` made it) that grading skips: those whose cell id is
    a skippable cell (``is_skippable``) of the instructor's notebook for ``module_name``. Only the instructor's
    notebook is read: a learner's tags or metadata never make the grader skip anything (and every cell with a
    locked cell's id in ``nb`` is the instructor's own copy). ``preview``: ids of more instructor's cells to
    treat as tagged (to try a tagging before the notebooks carry it; the same rules apply)."""
    instructor = _instructor_notebook(module_name)
    if nb is None or instructor is None:
        return []
    ids = set()
    for cell in instructor.cells:
        if cell.get("id") in preview:
            cell = copy.deepcopy(cell)
            cell.metadata["tags"] = [*(cell.metadata.get("tags") or []), SKIP_TAG]
        if cell.get("id") and is_skippable(cell):
            ids.add(cell.get("id"))
    return [index for index, cell in enumerate(nb.cells) if cell.get("id") in ids]


def _parse(source):
    """The syntax tree of a cell's code, or None for IPython magics or a syntax error."""
    if any(line.lstrip().startswith(("%", "!")) for line in source.splitlines()):
        return None
    try:
        return ast.parse(source)
    except SyntaxError:
        return None


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _outside_bodies(node):
    """The nodes under ``node`` that run in its own scope: not inside the body of a function, lambda or class it
    defines (their decorators, defaults and bases are outside), nor a comprehension's loop variables."""
    stack = [node]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, _SCOPES):
            args = getattr(node, "args", None)
            stack += [*getattr(node, "decorator_list", []), *getattr(node, "bases", []),
                      *(args.defaults + [d for d in args.kw_defaults if d is not None] if args else [])]
        elif isinstance(node, _COMPREHENSIONS):  # only a walrus inside binds outside; the first iterable runs here
            stack += [n for n in ast.walk(node) if isinstance(n, ast.NamedExpr)] + [node.generators[0].iter]
        else:
            stack += ast.iter_child_nodes(node)


def _binds(nodes):
    names = set()
    for node in nodes:
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update(alias.asname or alias.name.split(".")[0] for alias in node.names)
    return names


def _locals(scope):
    """The names local to a function or lambda: its parameters and what its body binds, less ``global``."""
    args = scope.args
    params = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg] if a}
    body = scope.body if isinstance(scope.body, list) else [scope.body]
    inside = [n for statement in body for n in _outside_bodies(statement)]
    declared = {name for n in inside if isinstance(n, (ast.Global, ast.Nonlocal)) for name in n.names}
    return (params | _binds(inside)) - declared


def _free_reads(node, local, reads):
    """Add to ``reads`` the names ``node`` reads that are not local to a function or comprehension around it."""
    if isinstance(node, ast.Name):
        if isinstance(node.ctx, ast.Load) and node.id not in local:
            reads.add(node.id)
        return
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        for outside in _outside_bodies(node):
            if outside is not node:
                _free_reads(outside, local, reads)
        inner = local | _locals(node)
        for statement in (node.body if isinstance(node.body, list) else [node.body]):
            _free_reads(statement, inner, reads)
        return
    if isinstance(node, _COMPREHENSIONS):
        _free_reads(node.generators[0].iter, local, reads)
        inner = local | {n.id for g in node.generators for n in ast.walk(g.target) if isinstance(n, ast.Name)}
        parts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        parts += [part for n, g in enumerate(node.generators) for part in ([g.iter] if n else []) + g.ifs]
        for part in parts:
            _free_reads(part, inner, reads)
        return
    for child in ast.iter_child_nodes(node):
        _free_reads(child, local, reads)


def defined_names(sources):
    """The names that code ``sources`` bind at the top level (assignments, imports, def, class, for, with,
    walrus, ``global`` in a function), not a function's own locals nor a comprehension's loop variables; or None
    when that cannot be told (a syntax error, ``import *``, IPython magics, ``globals()``/``exec``)."""
    names = set()
    for source in sources:
        tree = _parse(source)
        if tree is None:
            return None
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and any(alias.name == "*" for alias in node.names):
                return None
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                    node.func.id in ("globals", "exec", "eval", "vars"):
                return None
            if isinstance(node, ast.Global):
                names.update(node.names)
        names |= _binds(_outside_bodies(tree))
    return names


def read_names(source):
    """The names that code ``source`` reads from its notebook's globals: anywhere, also inside the functions it
    defines, except a function's own parameters and locals and a comprehension's loop variables; None when it
    cannot be parsed (IPython magics, a syntax error)."""
    tree = _parse(source)
    if tree is None:
        return None
    reads = set()
    _free_reads(tree, frozenset(), reads)
    return reads


def needed_from_skipped(cells, skipped):
    """``{cell index: names}``: for each code cell of ``cells`` that runs (its index not in ``skipped``), the names it
    reads that, at that point, only skipped cells have bound. Empty when the skipping is safe for the course author's
    own notebook (a learner's code may still need more: the grader then re-grades with every cell run)."""
    only_skipped, needed = set(), {}
    for index, cell in enumerate(cells):
        if cell.get("cell_type") != "code":
            continue
        bound = defined_names([cell.get("source", "")]) or set()
        if index in skipped:
            only_skipped |= bound
            continue
        wanted = (read_names(cell.get("source", "")) or set()) & only_skipped - bound
        if wanted:
            needed[index] = sorted(wanted)
        only_skipped -= bound
    return needed


def _only_setup(source):
    """Whether ``source`` only imports or calls ``camlab.require``: set-up that costs nothing and stays run."""
    tree = _parse(source)
    if tree is None:
        return True
    return all(isinstance(node, (ast.Import, ast.ImportFrom)) or (
        isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
        and ast.unparse(node.value.func).endswith("require")) for node in tree.body)


def could_skip(cells):
    """Indices of the code cells of ``cells`` (an instructor's notebook) that grading could skip as far as names
    tell: the largest set of locked cells, none a check or ``use()`` cell nor set-up only (imports,
    ``camlab.require``), such that no cell left running reads a name only skipped cells bind
    (``needed_from_skipped`` is empty), leaving out the cells tagged ``RUN_TAG``. Names are all it sees: a cell
    whose effect a later cell needs without a name (a file it writes, a seed it sets, an object it changes in
    place) must not be skipped; tag it ``RUN_TAG``. Grading every solution notebook with its tags on shows
    such a cell (``tests/test_grading.py``)."""
    skip = {index for index, cell in enumerate(cells)
            if cell.get("cell_type") == "code" and cell.get("metadata", {}).get("camlab", {}).get("locked")
            and not _CHECKS.search(cell.get("source", "")) and not _only_setup(cell.get("source", ""))
            and RUN_TAG not in (cell.get("metadata", {}).get("tags") or [])}
    while True:
        needed = needed_from_skipped(cells, skip)
        if not needed:
            return sorted(skip)
        for reader, names in needed.items():
            for name in names:  # run the last skipped cell before the reader that binds the name
                binder = max((i for i in skip if i < reader and name in (defined_names([cells[i].source]) or ())),
                             default=None)
                skip.discard(binder)


def skip_advice(cells, skipped):
    """What ``could_skip`` says of a notebook tagged as it is, ``skipped`` being the cells grading skips:
    ``{"untagged": [indices that could be tagged], "needed": needed_from_skipped(cells, skipped)}``."""
    return {"untagged": sorted(set(could_skip(cells)) - set(skipped)),
            "needed": needed_from_skipped(cells, skipped)}
