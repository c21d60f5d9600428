"""Two small exercises that demonstrate the framework (``camlab.exercises.core``) without TensorFlow.

Used by the tests of the grader and by ``benchmarks/bench_grading.py``; a notebook uses them with
``from camlab.exercises.ex00 import q1, q2``.
"""
import numpy as np

from camlab.exercises.core import Case, Exercise, close

NOTEBOOK = "00_demo"


def _clip01(x):
    """Values below 0 become 0, above 1 become 1: ``min(max(x, 0), 1)``, element-wise."""
    return np.clip(np.asarray(x, dtype=np.float32), 0.0, 1.0)


def _normalize_map(cam):
    """``ReLU(cam) / max(ReLU(cam))``; a map with no positive value stays all zeros (no division by zero)."""
    cam = np.maximum(np.asarray(cam, dtype=np.float32), 0.0)
    peak = cam.max()
    return cam / peak if peak > 0 else cam


def _clip_cases(seed=0):
    """Random values on both sides of [0, 1] (``seed`` 0: the public cases; others: hidden ones)."""
    rng = np.random.default_rng(seed)
    return [
        Case((np.concatenate([[-0.5, 0.25, 1.5], rng.uniform(-1, 2, 2)]),), label="values on both sides"),
        Case((rng.uniform(-1, 2, (3, 4)),), label="a 3x4 map"),
        Case((np.zeros((2, 2)),), label="all zeros"),
    ]


def _normalize_cases(seed=0):
    rng = np.random.default_rng(seed + 1)
    return [
        Case((rng.uniform(0, 4, (2, 2)),), label="a positive map"),
        Case((rng.uniform(-2, 3, (2, 3)),), label="a map with negative values"),
        Case((np.zeros((3, 3)),), label="an all-zero map"),
    ]


q1 = Exercise(
    name="clip to [0, 1]",
    func_name="clip01",
    cases=_clip_cases,
    reference=_clip01,
    hint="np.clip(x, low, high) does it in one call.",
    solution="def clip01(x):\n    return np.clip(x, 0.0, 1.0)",
    compare=close(),
    description="Write `clip01(x)` returning x with every value clipped to [0, 1].",
)

q2 = Exercise(
    name="normalize a map",
    func_name="normalize_map",
    cases=_normalize_cases,
    reference=_normalize_map,
    hint="Apply ReLU with np.maximum(cam, 0), then divide by the maximum - unless the maximum is 0.",
    solution=("def normalize_map(cam):\n    cam = np.maximum(cam, 0)\n    peak = cam.max()\n"
              "    return cam / peak if peak > 0 else cam"),
    compare=close(atol=1e-5),
    description="Write `normalize_map(cam)`: ReLU, then divide by the maximum so the peak is 1 (zeros stay zeros).",
)

EXERCISES = [q1, q2]
