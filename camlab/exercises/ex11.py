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
from camlab.exercises.core import Case, Exercise, equal, gives, short_repr
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


def _placed(generator, public):
    """For hidden seeds, the hand-made cases moved inside a larger map (zero rows and columns on every side,
    the boxes moved with them): the same distances in pixels, other inputs. Public: unchanged."""

    def place(cam, boxes):
        if public:
            return cam, boxes
        top, left, bottom, right = (int(v) for v in generator.integers(1, 8, 4))
        height, width = cam.shape
        grown = np.pad(cam, ((top, bottom), (left, right)))
        pixels = np.asarray(boxes, np.float64) * [height, width, height, width] + [top, left, top, left]
        size = [grown.shape[0], grown.shape[1]] * 2
        return grown, (pixels / size).astype(np.asarray(boxes).dtype)

    return place


def _pointing_cases(seed=0):
    generator = rng(seed + 111)
    place = _placed(rng(seed + 113), public=seed == 0)
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
        Case(place(peak(20, 40), np.array(box, np.float32)), label="a peak inside the box"),
        Case(place(peak(5, 5), np.array(box, np.float32)), label="a peak far from the box"),
        Case(place(peak(20, 20), np.array(box, np.float32)), label="a peak 9.5 px left of the box (within 15 px)"),
        Case(place(peak(20, 8), np.array([0.4, 0.05, 0.6, 0.2], np.float32)), {"tolerance": 0},
             label="a box in the left part of a wide map: x and y must not be swapped, tolerance=0"),
        Case(place(peak(20, 20), np.array(box, np.float32)), {"tolerance": 0}, label="the same peak, tolerance=0"),
        Case(place(peak(35, 20), np.array(box, np.float32)),
             label="a peak diagonally off the box's corner, 5.5 px below and 9.5 px to the left (11 px)"),
        Case(place(peak(35, 19), np.array([0.4, 0.5, 0.6, 0.7], np.float32)),
             label="a peak 11.5 px below and 10.5 px left of the box's corner (15.6 px: out of reach)"),
        Case(place(peak(20, 57), np.array(box, np.float32)), {"tolerance": 2},
             label="a peak 3.5 px right of the box, tolerance=2"),
        Case(place(peak(30, 40), np.array(box, np.float32)), {"tolerance": 0},
             label="the peak's row is the box's bottom edge (row 30: its centre 30.5 is outside), tolerance=0"),
        Case(place(peak(35, 5), np.array([box, [0.75, 0.0, 1.0, 0.25]], np.float32)),
             label="two boxes: the peak is in the second one"),
        Case(place(np.zeros(shape, np.float32), np.array([0.0, 0.0, 0.5, 0.5], np.float32)),
             label="an all-zero map (no peak) and a box over its top-left corner"),
        Case(place(blobs(shape, [(5, 10, 5, 10), (20, 25, 40, 45)]), np.array(box, np.float32)),
             label="two equal plateaus: the first maximum in raster order is the peak"),
        *random_cases,
    ]


def _pointing_variant(mistake):
    """``pointing_hit`` with one typical mistake (for the diagnoses): see ``_POINTING_MISTAKES``."""

    def pointing_hit(cam, gt_boxes, tolerance=15):
        cam = np.asarray(cam, np.float64)
        boxes = np.atleast_2d(np.asarray(gt_boxes, np.float64))
        tolerance = 15 if mistake == "fixed_tolerance" else tolerance
        if cam.max() <= cam.min():
            return mistake == "constant_map_points" and _near(cam, boxes[:1], tolerance, np.argmax(cam))
        index = np.flatnonzero(cam == cam.max())[-1] if mistake == "last_maximum" else np.argmax(cam)
        return _near(cam, boxes[:1] if mistake == "first_box_only" else boxes, tolerance, index)

    def _near(cam, boxes, tolerance, index):
        row, column = np.unravel_index(int(index), cam.shape)
        y, x = (row, column) if mistake == "no_centre" else (row + 0.5, column + 0.5)
        height, width = cam.shape
        for box in boxes:
            ymin, xmin, ymax, xmax = box[[1, 0, 3, 2]] if mistake == "xy_swapped" else box
            dy = max(ymin * height - y, y - ymax * height, 0.0)
            dx = max(xmin * width - x, x - xmax * width, 0.0)
            distance = {"inside_only": 0.0 if dx == dy == 0 else np.inf, "grown_box": max(dx, dy)}.get(
                mistake, np.hypot(dx, dy))
            if distance <= tolerance:
                return True
        return False

    return pointing_hit


# An answer is True or False: on a case two mistakes can give the same wrong answer. The cases are ordered so
# that each mistake's first wrong answer is on a case that only it gets wrong, and the list below goes from
# the most specific mistake to the least.
_POINTING_MISTAKES = [
    (gives(_pointing_variant("constant_map_points"), equal()),
     "A map whose maximum equals its minimum (here all zeros) has no peak: that is a miss, return False."),
    (gives(_pointing_variant("last_maximum"), equal()),
     "Your peak looks like the LAST of several equal maxima: np.argmax gives the first in raster order."),
    (gives(_pointing_variant("first_box_only"), equal()),
     "Only the first box looks checked: the peak hits when it is close to ANY of the boxes."),
    (gives(_pointing_variant("no_centre"), equal()),
     "The peak looks placed at its pixel's top-left corner (row, column): use the pixel's centre, "
     "(row + 0.5, column + 0.5)."),
    (gives(_pointing_variant("grown_box"), equal()),
     "Off a box's corner the distance looks measured as max(dy, dx) (the box grown by the tolerance): the "
     "distance to a corner is the straight line, hypot(dy, dx)."),
    (gives(_pointing_variant("fixed_tolerance"), equal()),
     "The `tolerance` argument looks ignored (always 15): use the one you are given."),
    (gives(_pointing_variant("xy_swapped"), equal()),
     "The box looks read with x and y swapped: a box is [ymin, xmin, ymax, xmax]; rows scale with the map's "
     "height, columns with its width."),
    (gives(_pointing_variant("inside_only"), equal()),
     "Only peaks inside a box count in your answer: a peak within `tolerance` pixels of a box is a hit too."),
]


q1 = Exercise(
    name="11 q1: the pointing game, one map",
    func_name="pointing_hit",
    cases=_pointing_cases,
    reference=peak_hits,
    forbidden=[peak_hits, metrics.pointing_game],
    hint=["The map points where its value is highest: find that one pixel (the first one if several tie) and "
          "measure how far its centre is from each box, in pixels of this map (boxes are fractions of its height "
          "and width). Inside a box the distance is 0; close enough to any box is a hit. A flat map points "
          "nowhere.",
          "np.argmax and np.unravel_index give the peak's (row, column); np.hypot gives a distance from its two "
          "sides; np.atleast_2d turns one box into a list of boxes."],
    mistakes=_POINTING_MISTAKES,
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


def _jittered(generator, public, spread=0.02):
    """For hidden seeds, a table's values (after the original row) moved by up to ``spread``: no value crosses
    a threshold of the cases (they are at least 0.05 away), the inputs are new. Public: unchanged."""

    def jitter(values):
        if public:
            return values
        return {method: {metric: [series[0], *(round(float(v + generator.uniform(-spread, spread)), 4)
                                               for v in series[1:])] for metric, series in by_metric.items()}
                for method, by_metric in values.items()}

    return jitter


def _table_cases(seed=0):
    generator = rng(seed + 112)
    jitter = _jittered(rng(seed + 114), public=seed == 0)
    steps = ["original", "predictions", "block3_out_conv", "block1_conv1_conv"]
    measured = _rows(steps, jitter({  # the shape of a real cascading check: CAM falls at once, guided backprop late
        "cam": {"spearman": [1.0, 0.13, 0.05, 0.02], "ssim": [1.0, 0.30, 0.20, 0.10]},
        "saliency": {"spearman": [1.0, -0.13, 0.1, 0.05], "spearman_abs": [1.0, 0.45, 0.3, 0.2]},
        "guided_backprop": {"spearman": [1.0, 0.85, 0.6, 0.3], "ssim": [1.0, 0.7, 0.4, 0.2]},
    }))
    all_methods = ["cam", "saliency", "guided_backprop"]
    at = 0.5 if seed == 0 else float(rng(seed + 115).choice([0.3, 0.4, 0.6, 0.7]))  # hidden: another threshold
    edge = _rows(steps[:2], {"cam": {"spearman": [1.0, at]}, "layer_cam": {"spearman": [1.0, round(at - 0.01, 2)]}})
    late = _rows(steps, jitter({"grad_cam": {"spearman": [1.0, 0.9, 0.2, 0.1]},
                                "cam": {"spearman": [1.0, 0.4, 0.9, 0.95]}}))
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
        Case((edge, ["cam", "layer_cam"]), {} if seed == 0 else {"threshold": at},
             label=f"one random step; values of exactly {at:g} and {round(at - 0.01, 2):g}"),
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


def _passing_variant(mistake):
    """``passing_methods`` with one typical mistake (for the diagnoses): see ``_PASSING_MISTAKES``."""

    def passing_methods(rows, methods, threshold=0.5, metric="spearman"):
        column = lambda method: f"{method}_{'spearman' if mistake == 'ignores_metric' else metric}"
        if mistake in ("original_row", "last_row"):
            row = rows[0] if mistake == "original_row" else rows[-1]
            values = {method: row[column(method)] for method in methods}
        elif mistake == "mean_of_random_rows":
            values = {method: float(np.mean([row[column(method)] for row in rows[1:]])) for method in methods}
        else:
            values = {method: rows[1][column(method)] for method in methods}
        keep = {"at_most": lambda v: v <= threshold, "inverted": lambda v: v >= threshold}.get(
            mistake, lambda v: v < threshold)
        passed = [method for method in methods if keep(values[method])]
        return sorted(passed) if mistake == "sorted" else passed

    return passing_methods


_PASSING_MISTAKES = [
    (gives(_passing_variant("at_most"), _same_methods),
     "A value exactly at the threshold looks like a pass in your answer: a method passes when its value is "
     "strictly below the threshold."),
    (gives(_passing_variant("sorted"), _same_methods),
     "Your list looks sorted by name: keep the order of `methods`."),
    (gives(_passing_variant("ignores_metric"), _same_methods),
     "The `metric` argument looks ignored (always spearman): read the column f'{method}_{metric}'."),
    (gives(_passing_variant("inverted"), _same_methods),
     "Your list holds the methods whose map stayed similar: a method PASSES when the similarity falls below "
     "the threshold (its map depends on the weights)."),
    (gives(_passing_variant("original_row"), _same_methods),
     "Your answer reads rows[0], the original model (every similarity is 1 there): the test's first step is "
     "rows[1]."),
    (gives(_passing_variant("mean_of_random_rows"), _same_methods),
     "Your answer looks averaged over all the random steps: read the first one only, rows[1]."),
    (gives(_passing_variant("last_row"), _same_methods),
     "Your answer reads the last row (every layer random): the question is about the first step, rows[1], where "
     "only the top layer is random."),
]


q2 = Exercise(
    name="11 q2: which methods pass a sanity check",
    func_name="passing_methods",
    cases=_table_cases,
    reference=sanity_passes,
    hint=["A method passes the randomization test when its map changes once the top layer's weights are "
          "random: at that first step (the row right after the original model, whose similarities are all 1), "
          "its similarity to the original map is below the threshold. Keep the methods in the order you are "
          "given them.",
          "rows is a list of dicts; each column is named f'{method}_{metric}'; a list comprehension with an if "
          "keeps the order."],
    mistakes=_PASSING_MISTAKES,
    notebook=NOTEBOOK,
    compare=_same_methods,
    description=("Write `passing_methods(rows, methods, threshold=0.5, metric='spearman')`: the list of methods (in "
                 "the order of `methods`) whose `metric` right after the top layer is randomized (rows[1]) is "
                 "below `threshold`."),
)

EXERCISES = [q1, q2]
