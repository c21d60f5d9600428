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


q1 = Exercise(
    name="clip to [0, 1]",
    func_name="clip01",
    cases=[
        Case((np.array([-0.5, 0.25, 1.5]),), label="values on both sides"),
        Case((np.linspace(-1, 2, 12).reshape(3, 4),), label="a 3x4 map"),
        Case((np.zeros((2, 2)),), label="all zeros"),
    ],
    reference=_clip01,
    hint="np.clip(x, low, high) does it in one call.",
    solution="def clip01(x):\n    return np.clip(x, 0.0, 1.0)",
    compare=close(),
    description="Write `clip01(x)` returning x with every value clipped to [0, 1].",
)

q2 = Exercise(
    name="normalize a map",
    func_name="normalize_map",
    cases=lambda: [
        Case((np.array([[0.0, 2.0], [1.0, 4.0]]),), label="a positive map"),
        Case((np.array([[-1.0, 3.0], [0.5, -2.0]]),), label="a map with negative values"),
        Case((np.zeros((3, 3)),), label="an all-zero map"),
    ],
    reference=_normalize_map,
    hint="Apply ReLU with np.maximum(cam, 0), then divide by the maximum - unless the maximum is 0.",
    solution=("def normalize_map(cam):\n    cam = np.maximum(cam, 0)\n    peak = cam.max()\n"
              "    return cam / peak if peak > 0 else cam"),
    compare=close(atol=1e-5),
    description="Write `normalize_map(cam)`: ReLU, then divide by the maximum so the peak is 1 (zeros stay zeros).",
)

EXERCISES = [q1, q2]
