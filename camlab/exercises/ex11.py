"""Exercises of notebook 11_trust: the pointing game, and reading a sanity check.

- ``q1``: ``pointing_hit(cam, gt_boxes, tolerance=15)`` - does the map's peak point at an object? True when the
  centre of the map's maximum pixel lies within ``tolerance`` pixels of one of the normalized ground-truth boxes.
- ``q2``: ``passing_methods(rows, methods, threshold=0.5, metric="spearman")`` - the methods whose similarity to
  the original map falls below ``threshold`` once the top layer is randomized (the row after ``"original"`` of a
  ``camlab.metrics.sanity_check`` table).

The references: ``peak_hits`` below (built on ``camlab.metrics.pointing_game``) and ``sanity_passes``.
"""
import numpy as np

from camlab import metrics
from camlab.exercises.core import Case, Exercise, equal, short_repr
from camlab.exercises.fixtures import blobs, gaussian, rng

NOTEBOOK = "11_trust"

# ----------------------------------------------------------------------------------------------------------
# q1: one round of the pointing game


def peak_hits(cam, gt_boxes, tolerance=15):
    """Whether the peak of ``cam`` (2-D) hits one of ``gt_boxes`` ((4,) or (K, 4), normalized [ymin, xmin,
    ymax, xmax]): the pointing game for one map (``camlab.metrics.pointing_game``'s rules).

    The peak is the first maximum in raster order, at row r, column c; its pixel's centre (r + 0.5, c + 0.5)
    hits a box scaled to the map's pixels (ymin * H, ...) when its Euclidean distance to the box is at most
    ``tolerance`` (inside = 0). A constant map has no peak: a miss.
    """
    return metrics.pointing_game([np.asarray(cam)], [np.asarray(gt_boxes)], tolerance=tolerance) == 1.0


def _pointing_cases(seed=0):
    generator = rng(seed + 111)
    shape = (40, 60)  # H != W: x and y cannot be mixed up unnoticed
    box = [0.25, 0.5, 0.75, 0.9]  # rows 10..30, columns 30..54
    peak = lambda r, c, size=shape: gaussian(size, (r, c), 3.0)  # (row, column)
    random_cases = []
    for k in range(3):
        r, c = int(generator.integers(0, shape[0])), int(generator.integers(0, shape[1]))
        y0, x0 = float(generator.uniform(0, 0.6)), float(generator.uniform(0, 0.6))
        random_box = [y0, x0, y0 + float(generator.uniform(0.1, 0.4)), x0 + float(generator.uniform(0.1, 0.4))]
        random_cases.append(Case((peak(r, c), np.array(random_box, np.float32)),
                                 label=f"random map {k + 1}: a peak at a random place, a random box"))
    return [
        Case((peak(20, 40), np.array(box, np.float32)), label="a peak inside the box"),
        Case((peak(5, 5), np.array(box, np.float32)), label="a peak far from the box"),
        Case((peak(20, 20), np.array(box, np.float32)), label="a peak 9.5 px left of the box (within 15 px)"),
        Case((peak(20, 20), np.array(box, np.float32)), {"tolerance": 0}, label="the same peak, tolerance=0"),
        Case((peak(35, 20), np.array(box, np.float32)),
             label="a peak diagonally off the box's corner, 5.5 px below and 9.5 px to the left (11 px)"),
        Case((peak(35, 19), np.array([0.4, 0.5, 0.6, 0.7], np.float32)),
             label="a peak 11.5 px below and 10.5 px left of the box's corner (15.6 px: out of reach)"),
        Case((peak(20, 57), np.array(box, np.float32)), {"tolerance": 2},
             label="a peak 3.5 px right of the box, tolerance=2"),
        Case((peak(30, 40), np.array(box, np.float32)), {"tolerance": 0},
             label="the peak's row is the box's bottom edge (row 30: its centre 30.5 is outside), tolerance=0"),
        Case((peak(35, 5), np.array([box, [0.75, 0.0, 1.0, 0.25]], np.float32)),
             label="two boxes: the peak is in the second one"),
        Case((peak(20, 8), np.array([0.4, 0.05, 0.6, 0.2], np.float32)), {"tolerance": 0},
             label="a box in the left part of a wide map: x and y must not be swapped, tolerance=0"),
        Case((np.zeros(shape, np.float32), np.array([0.0, 0.0, 0.5, 0.5], np.float32)),
             label="an all-zero map (no peak) and a box over its top-left corner"),
        Case((blobs(shape, [(5, 10, 5, 10), (20, 25, 40, 45)]), np.array(box, np.float32)),
             label="two equal plateaus: the first maximum in raster order is the peak"),
        *random_cases,
    ]


q1 = Exercise(
    name="11 q1: the pointing game, one map",
    func_name="pointing_hit",
    cases=_pointing_cases,
    reference=peak_hits,
    forbidden=[peak_hits, metrics.pointing_game],
    hint=("np.unravel_index(np.argmax(cam), cam.shape) gives the peak's (row, column); use its pixel's centre, "
          "(row + 0.5, column + 0.5). Scale each box to pixels: ymin * H, xmin * W, ymax * H, xmax * W. The "
          "distance to a box is hypot(dy, dx) with dy = max(top - y, y - bottom, 0) and the same for x; hit if "
          "it is <= tolerance for ANY box. A map whose max equals its min has no peak: return False."),
    notebook=NOTEBOOK,
    compare=equal(),
    description=("Write `pointing_hit(cam, gt_boxes, tolerance=15)`: True when the centre of the map's peak pixel "
                 "is within `tolerance` pixels of one of the normalized [ymin, xmin, ymax, xmax] boxes."),
)


# ----------------------------------------------------------------------------------------------------------
# q2: reading a sanity check's table


def sanity_passes(rows, methods, threshold=0.5, metric="spearman"):
    """The methods (in the order of ``methods``) that pass the model-parameter randomization test at its first
    step: their mean ``metric`` (``rows[1][f"{method}_{metric}"]``, the row right after ``"original"``, where
    only the top layer is random) is below ``threshold``. ``rows``: ``SanityCheck.rows``."""
    if not rows or rows[0].get("step") != "original" or len(rows) < 2:
        raise ValueError("rows must be a sanity check's table: 'original' first, then at least one random step.")
    return [method for method in methods if rows[1][f"{method}_{metric}"] < threshold]


_METRICS = ("spearman", "spearman_abs", "ssim")


def _rows(steps, values):
    """A table like ``SanityCheck.rows``: ``values[method][metric]`` lists one value per step."""
    rows = []
    for s, step in enumerate(steps):
        row = {"step": step}
        for method, by_metric in values.items():
            for metric in _METRICS:
                row[f"{method}_{metric}"] = float(by_metric.get(metric, [1.0] * len(steps))[s])
        rows.append(row)
    return rows


def _table_cases(seed=0):
    generator = rng(seed + 112)
    steps = ["original", "predictions", "block3_out_conv", "block1_conv1_conv"]
    measured = _rows(steps, {  # the shape of a real cascading check: CAM falls at once, guided backprop late
        "cam": {"spearman": [1.0, 0.13, 0.05, 0.02], "ssim": [1.0, 0.30, 0.20, 0.10]},
        "saliency": {"spearman": [1.0, -0.13, 0.1, 0.05], "spearman_abs": [1.0, 0.45, 0.3, 0.2]},
        "guided_backprop": {"spearman": [1.0, 0.85, 0.6, 0.3], "ssim": [1.0, 0.7, 0.4, 0.2]},
    })
    all_methods = ["cam", "saliency", "guided_backprop"]
    edge = _rows(steps[:2], {"cam": {"spearman": [1.0, 0.5]}, "layer_cam": {"spearman": [1.0, 0.49]}})
    late = _rows(steps, {"grad_cam": {"spearman": [1.0, 0.9, 0.2, 0.1]}, "cam": {"spearman": [1.0, 0.4, 0.9, 0.95]}})
    random_values = {m: {k: [1.0, *generator.uniform(-0.3, 1.0, 3).round(3)] for k in _METRICS}
                     for m in ("cam", "grad_cam", "saliency")}
    random_rows = _rows(steps, random_values)
    return [
        Case((measured, all_methods), label="a cascading check of three methods"),
        Case((measured, ["guided_backprop", "cam"]), {"threshold": 0.9},
             label="two of its methods, guided backprop first, threshold=0.9"),
        Case((measured, all_methods), {"threshold": 0.9}, label="threshold=0.9"),
        Case((measured, all_methods), {"metric": "spearman_abs"}, label="metric='spearman_abs'"),
        Case((measured, all_methods), {"metric": "ssim", "threshold": 0.5}, label="metric='ssim'"),
        Case((edge, ["cam", "layer_cam"]), label="one random step; values of exactly 0.5 and 0.49"),
        Case((late, ["grad_cam", "cam"]),
             label="grad_cam falls only at later steps; cam falls at the first step and rises again"),
        Case((random_rows, ["cam", "grad_cam", "saliency"]), {"threshold": 0.4},
             label="random values, threshold=0.4"),
        Case((random_rows, ["saliency", "cam"]), {"metric": "ssim", "threshold": 0.6},
             label="the same table, metric='ssim', threshold=0.6"),
    ]


def _same_methods(expected, got):
    if got is None:
        return f"expected {short_repr(expected)}, got None (did you forget to `return` the list?)"
    if not isinstance(got, (list, tuple)):
        return f"expected a list of method names such as {short_repr(expected)}, got {short_repr(got)}"
    if list(got) != list(expected):
        return f"expected {short_repr(list(expected))}, got {short_repr(list(got))}"
    return None


q2 = Exercise(
    name="11 q2: which methods pass a sanity check",
    func_name="passing_methods",
    cases=_table_cases,
    reference=sanity_passes,
    hint=("rows[0] is the original model (every similarity is 1 there); rows[1] is the step where only the top "
          "layer is random. Its column for a method is f'{method}_{metric}'. Keep the methods, in the order "
          "given, whose value there is strictly below threshold."),
    notebook=NOTEBOOK,
    compare=_same_methods,
    description=("Write `passing_methods(rows, methods, threshold=0.5, metric='spearman')`: the list of methods (in "
                 "the order of `methods`) whose `metric` right after the top layer is randomized (rows[1]) is "
                 "below `threshold`."),
)

EXERCISES = [q1, q2]
