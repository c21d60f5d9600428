"""The release key: what an instructor keeps when handing out a release, and gives to ``camlab grade --key``.

``{"camlab_key": 1, "seed": int, "exam": bool, "notebooks": [{"id", "file", "module", "exercises": [{"key",
"func_name", "title", "points"}]}]}``. The seed draws the hidden cases; the notebook list is the course every
learner is scored on. Keep it away from learners: with the seed, the hidden cases are not hidden.
"""
from __future__ import annotations

import importlib
import json
import secrets
from pathlib import Path

from camlab.grading.submissions import MODULE_NAME, exercise_keys


def make_key(entries, seed=None, exam=False):
    """A key for release notebooks ``entries`` (``[(file name, notebook metadata)]``)."""
    notebooks = []
    for file_name, meta in entries:
        module_name = meta.get("exercises")
        item = {"id": meta.get("id"), "file": file_name, "module": module_name, "exercises": []}
        if module_name:
            module = importlib.import_module(module_name)
            for attribute, func_name in exercise_keys(module_name)[1]:
                exercise = getattr(module, attribute)
                item["exercises"].append({"key": attribute, "func_name": func_name, "title": exercise.name,
                                          "points": exercise.points})
        notebooks.append(item)
    return {"camlab_key": 1, "seed": secrets.randbits(63) if seed is None else int(seed), "exam": bool(exam),
            "notebooks": notebooks}


def write_key(key, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(key, indent=1) + "\n", encoding="utf-8")
    return path


def read_key(path):
    """The key at ``path``, checked; ``ValueError`` saying what is wrong otherwise."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no key file {path}; `camlab release --out DIR` writes one (DIR-key.json).")
    try:
        key = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise ValueError(f"{path} is not a camlab release key (not JSON: {error})") from None
    if not isinstance(key, dict) or key.get("camlab_key") != 1 or not isinstance(key.get("notebooks"), list):
        raise ValueError(f"{path} is not a camlab release key (no \"camlab_key\": 1 and notebook list)")
    if not isinstance(key.get("seed"), int):
        raise ValueError(f"{path}: the seed must be an integer")
    for entry in key["notebooks"]:
        module_name = entry.get("module") if isinstance(entry, dict) else None
        if module_name is not None and not (isinstance(module_name, str) and MODULE_NAME.match(module_name)):
            raise ValueError(f"{path}: {module_name!r} is not a camlab exercises module")
    return key
