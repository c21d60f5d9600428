"""Plain data in and out of a learner's kernel: the case inputs go in, the answers come back, nothing else.

A value is written to a folder as ``data.json`` plus one ``.npy`` file per array. In ``data.json`` numbers,
strings, ``None``, ``true``/``false`` and lists stand for themselves; every JSON object is a tagged node:
``{"npy": "3.npy"}`` (an array, read with ``allow_pickle=False``), ``{"scalar": "4.npy"}`` (a NumPy scalar),
``{"tuple": [...]}``, ``{"dict": {...}}``
and, for inputs only, ``{"keras": "m0.keras"}`` (a model the grader saved, loaded in safe mode). Object arrays,
pickles and anything else are refused; ``read_data`` never runs code from the folder it reads.

In the kernel, ``serve`` (called by the grader's cell after the notebook has run) reads the cases, runs the
learner's function on them with ``run_cases`` and writes what happened back; ``dump_log`` writes the notebook's
log of checks and ``hint()``/``solution()`` views. The grader reads both with ``read_data`` and decides the
verdicts itself (``camlab.grading.judge``): a forged answer file can only hold answers, which the grader
compares with its own.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

DATA_FILE = "data.json"
MAX_JSON_BYTES = 16 * 2**20
MAX_TOTAL_BYTES = 256 * 2**20
MAX_FILES = 10_000
_ARRAY_KINDS = "biufcUS"


class TransportError(ValueError):
    """A folder that does not hold plain data as ``write_data`` writes it."""


def _is_model(value):
    try:
        import keras
    except ImportError:  # pragma: no cover - keras is a dependency
        return False
    return isinstance(value, keras.Model)


def write_data(value, folder, models=False):
    """Write plain ``value`` (and, with ``models``, Keras models in it) to ``folder`` (created, must be new or
    empty). Raises ``TransportError`` for anything that is not plain data."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays, saved = [], {}

    def encode(item, depth=0):
        if depth > 30:
            raise TransportError("the value is nested more than 30 levels deep")
        if item is None or type(item) in (bool, int, float, str):
            return item
        if isinstance(item, (np.ndarray, np.generic)):
            if item.dtype.kind not in _ARRAY_KINDS or item.dtype.fields is not None:
                raise TransportError(f"an array of dtype {item.dtype} is not plain data")
            name = f"{len(arrays)}.npy"
            np.save(folder / name, np.asarray(item), allow_pickle=False)
            arrays.append(name)
            return {"scalar" if isinstance(item, np.generic) else "npy": name}
        if type(item) is list:
            return [encode(v, depth + 1) for v in item]
        if type(item) is tuple:
            return {"tuple": [encode(v, depth + 1) for v in item]}
        if type(item) is dict and all(type(k) is str for k in item):
            return {"dict": {k: encode(v, depth + 1) for k, v in item.items()}}
        if models and _is_model(item):
            if id(item) not in saved:
                saved[id(item)] = f"m{len(saved)}.keras"
                item.save(folder / saved[id(item)])
            return {"keras": saved[id(item)]}
        raise TransportError(f"{type(item).__name__} is not plain data")

    document = json.dumps(encode(value), allow_nan=True)
    temporary = folder / (DATA_FILE + ".part")
    temporary.write_text(document, encoding="utf-8")
    os.replace(temporary, folder / DATA_FILE)  # a reader sees the whole document or none
    return folder


def read_data(folder, models=False):
    """The value ``write_data`` wrote to ``folder``. Only ``.npy`` arrays (no pickles, no objects) and JSON are
    read, within size limits; with ``models``, ``{"keras": ...}`` nodes are loaded in safe mode (inputs, in the
    kernel). Raises ``TransportError`` when the folder holds anything else."""
    folder = Path(folder)
    path = folder / DATA_FILE
    if not path.is_file() or path.is_symlink():
        raise TransportError(f"no {DATA_FILE} in {folder}")
    files = [p for p in folder.iterdir()]
    if len(files) > MAX_FILES:
        raise TransportError(f"{len(files)} files: more than {MAX_FILES}")
    total = sum(p.stat().st_size for p in files if p.is_file() and not p.is_symlink())
    if total > MAX_TOTAL_BYTES or path.stat().st_size > MAX_JSON_BYTES:
        raise TransportError(f"{total / 2**20:.0f} MB of answers: more than {MAX_TOTAL_BYTES // 2**20} MB")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise TransportError(f"{DATA_FILE} is not JSON ({error})") from None
    loaded = {}

    def member(name):
        if not isinstance(name, str) or "/" in name or "\\" in name or name.startswith("."):
            raise TransportError(f"bad file name {name!r}")
        target = folder / name
        if not target.is_file() or target.is_symlink():
            raise TransportError(f"{name} is missing")
        return target

    def decode(node, depth=0):
        if depth > 30:
            raise TransportError("nested more than 30 levels deep")
        if node is None or type(node) in (bool, int, float, str):
            return node
        if type(node) is list:
            return [decode(v, depth + 1) for v in node]
        if type(node) is not dict or len(node) != 1:
            raise TransportError(f"unknown node {str(node)[:60]!r}")
        (tag, body), = node.items()
        if tag in ("npy", "scalar"):
            try:
                array = np.load(member(body), allow_pickle=False)
            except (ValueError, OSError, EOFError) as error:
                raise TransportError(f"{body}: not a plain .npy array ({error})") from None
            if not isinstance(array, np.ndarray) or array.dtype.kind not in _ARRAY_KINDS:
                raise TransportError(f"{body}: an array of dtype {getattr(array, 'dtype', '?')} is not plain data")
            if tag == "scalar":
                if array.ndim != 0:
                    raise TransportError(f"{body}: a scalar of shape {array.shape}")
                return array[()]
            return array
        if tag == "tuple" and type(body) is list:
            return tuple(decode(v, depth + 1) for v in body)
        if tag == "dict" and type(body) is dict:
            return {str(k): decode(v, depth + 1) for k, v in body.items()}
        if tag == "keras" and models:
            if body not in loaded:
                import keras

                loaded[body] = keras.saving.load_model(member(body), safe_mode=True, compile=False)
            return loaded[body]
        raise TransportError(f"unknown node {tag!r}")

    return decode(document)


# --------------------------------------------------------------------------------------------------------------
# The kernel's side (runs in the learner's kernel, called by the grader's cells).

def serve(module_name, attribute, folder, namespace):
    """Run the learner's function (``namespace[exercise.func_name]``) on the cases in ``folder/in``; write what
    happened (``run_cases``' plain data) to ``folder/out``. What the function prints goes nowhere."""
    import contextlib
    import importlib

    from camlab.exercises.core import Case, run_cases

    exercise = getattr(importlib.import_module(module_name), attribute)
    cases = [Case(tuple(args), dict(kwargs)) for args, kwargs in read_data(Path(folder) / "in", models=True)]
    fn = namespace.get(exercise.func_name)
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        outputs = run_cases(fn, cases, exercise.forbidden)
    try:
        write_data(outputs, Path(folder) / "out")
    except TransportError as error:  # an answer plain() let through but the file format cannot hold
        write_data({"function": "defined", "outcomes": [{"status": "not_plain", "what": str(error)}] * len(cases)},
                   Path(folder) / "out")


def dump_log(folder):
    """Write this kernel's log of checks and hint()/solution() views (``results_log``) to ``folder``."""
    from camlab.exercises.core import results_log

    entries = [{k: v for k, v in entry.items() if type(v) in (str, int, float, bool)} for entry in results_log()]
    write_data(entries, folder)
