"""Exercises of notebook 10_real_photos: where a map's mass goes, and scoring a box against several instances.

- ``q1``: ``mass_in_box(cam, box)`` - the share of a map's mass inside a normalized ``[ymin, xmin, ymax, xmax]``
  box: the sum of the map over the pixels whose centre lies in the box (edges included) divided by the sum over
  all pixels. Negative values are not mass: the map is clipped at 0 (ReLU) first. A map without positive
  mass (all zero, all negative) gives 0.0.
- ``q2``: ``best_iou(box, gt_boxes)`` - one map box against the K hand-drawn boxes of its label: the best of the
  K IoUs (0.0 when the map gave no box, ``None``).

The references are camlab's own measures: ``box_mass_share`` (``camlab.metrics.energy_pointing_game`` for one
map and one box, on the map's positive part) and ``best_instance_iou`` (``camlab.boxes.pairwise_iou``'s best
entry, the rule ``camlab.demo`` and notebook 09 score the photos with).
"""
import numpy as np

from camlab import boxes, metrics
from camlab.exercises.core import Case, Exercise, close, gives
from camlab.exercises.fixtures import blobs, gaussian, random_box, rng

NOTEBOOK = "10_real_photos"

# ----------------------------------------------------------------------------------------------------------
# q1: the share of a map's mass inside a box


def box_mass_share(cam, box):
    """The share of the positive mass of ``cam`` (2-D) inside ``box`` (normalized [ymin, xmin, ymax, xmax]).

        share = sum of max(cam, 0) over the pixels inside the box / sum of max(cam, 0) over all pixels

    Pixel (r, c) is inside when its centre (r + 0.5, c + 0.5) lies in [ymin * H, ymax * H] x [xmin * W, xmax * W],
    edges included (``camlab.metrics.energy_pointing_game``'s rule, which this calls). 0.0 for a map without
    positive mass. camlab's maps are already >= 0, so for them the ReLU changes nothing.
    """
    positive = np.maximum(np.asarray(cam, dtype=np.float64), 0.0)
    return metrics.energy_pointing_game([positive], [np.asarray(box, dtype=np.float64)])


def _mass_cases(seed=0):
    generator = rng(seed + 101)
    shape = (16, 32)  # H != W: a box read as [xmin, ymin, ...] or scaled by the wrong side is caught
    bump = gaussian(shape, (6.0, 20.0), 4.0, peak=2.2) + 0.3  # peaks at 2.5, minimum 0.3: neither 0 nor 1
    centred = [5 / 32, 9 / 64, 21 / 32, 41 / 64]  # edges at rows 2.5, 10.5 and columns 4.5, 20.5: pixel centres
    random_cases = []
    for k in range(3):
        height, width = (int(generator.integers(12, 40)) for _ in range(2))
        center = (float(generator.uniform(0, height)), float(generator.uniform(0, width)))
        cam = gaussian((height, width), center, float(generator.uniform(2.0, 6.0)),
                       peak=float(generator.uniform(0.5, 3.0))) + float(generator.uniform(-0.3, 0.4))
        random_cases.append(Case((cam.astype(np.float32), random_box(generator)),
                                 label=f"random map {k + 1} ({height} x {width}, an offset that may be negative) "
                                       f"and a random box"))
    return [
        Case((np.full(shape, 0.4, np.float32), [0.0, 0.0, 1.0, 0.5]), label="a flat map (all 0.4) and its left half"),
        Case((bump, [0.25, 0.5, 0.75, 0.875]), label="a bump in [0.3, 2.5] and a box around its peak"),
        Case((bump, [0.0, 0.0, 1.0, 1.0]), label="the same bump and the whole image"),
        Case((bump, [0.5, 0.0, 1.0, 0.5]), label="the bump and the bottom-left quarter (it touches two borders)"),
        Case((bump, centred), label="box edges exactly on pixel centres (those pixels are inside)"),
        Case((bump, [0.1, 0.7, 0.45, 0.95]), label="a box whose edges fall between pixel centres"),
        Case((bump, [0.5, 0.25, 0.5, 0.75]), label="a zero-height box on a line between two pixel rows"),
        Case((gaussian(shape, (8.0, 24.0), 3.0) - 0.25, [0.25, 0.5, 0.75, 1.0]),
             label="a map with negative values (a bump minus 0.25) and a box on the bump"),
        Case((np.zeros(shape, np.float32), [0.0, 0.0, 0.5, 0.5]), label="an all-zero map"),
        Case((np.full(shape, -1.0, np.float32), [0.0, 0.0, 1.0, 0.5]), label="an all-negative map (no positive mass)"),
        Case((blobs(shape, [(0, 8, 0, 16), (8, 16, 16, 32)], [1.0, 3.0]), [0.0, 0.0, 0.5, 0.5]),
             label="two blocks, 1.0 top-left and 3.0 bottom-right, and the top-left box"),
        *random_cases,
    ]


def _inside_mask(shape, box, strict=False, swap=False, scale=None):
    """Which pixels a variant of the rule puts inside (the wrong answers below are built on it)."""
    height, width = shape
    ymin, xmin, ymax, xmax = (box[1], box[0], box[3], box[2]) if swap else box
    sy, sx = scale or (height, width)
    rows, cols = np.arange(height)[:, None] + 0.5, np.arange(width)[None, :] + 0.5
    if strict:
        return (rows > ymin * sy) & (rows < ymax * sy) & (cols > xmin * sx) & (cols < xmax * sx)
    return (rows >= ymin * sy) & (rows <= ymax * sy) & (cols >= xmin * sx) & (cols <= xmax * sx)


def _share(cam, inside):
    total = cam.sum()
    return float(cam[inside].sum() / total) if total > 0 else 0.0


def _positive(cam):
    return np.maximum(np.asarray(cam, np.float64), 0.0)


def mass_without_relu(cam, box):
    cam = np.asarray(cam, np.float64)
    total = cam.sum()
    return float(cam[_inside_mask(cam.shape, box)].sum() / total) if total != 0 else 0.0


def mass_of_abs(cam, box):
    cam = np.abs(np.asarray(cam, np.float64))
    return _share(cam, _inside_mask(cam.shape, box))


def mass_after_min_max(cam, box):
    cam = _positive(cam)
    low, high = cam.min(), cam.max()
    cam = (cam - low) / (high - low) if high > low else np.zeros_like(cam)
    return _share(cam, _inside_mask(cam.shape, box))


def mean_inside(cam, box):
    """The mean of the map over the box's pixels: mass over the box's pixel count, not over the map's total."""
    cam = _positive(cam)
    inside = _inside_mask(cam.shape, box)
    return float(cam[inside].mean()) if inside.any() else 0.0


def mass_over_area(cam, box):
    """The share divided by the box's area: 'x uniform', not the share."""
    cam, area = _positive(cam), (box[2] - box[0]) * (box[3] - box[1])
    return _share(cam, _inside_mask(cam.shape, box)) / area if area > 0 else 0.0


def mass_xy_swapped(cam, box):
    cam = _positive(cam)
    return _share(cam, _inside_mask(cam.shape, box, swap=True))


def mass_height_width_mixed(cam, box):
    cam = _positive(cam)
    return _share(cam, _inside_mask(cam.shape, box, scale=cam.shape[::-1]))


def _sliced(start, stop, name):
    def mass(cam, box):
        cam = _positive(cam)
        height, width = cam.shape
        y0, y1 = start(box[0] * height), stop(box[2] * height)
        x0, x1 = start(box[1] * width), stop(box[3] * width)
        total = cam.sum()
        return float(cam[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)].sum() / total) if total > 0 else 0.0

    mass.__name__ = name
    return mass


mass_truncated_edges = _sliced(int, int, "mass_truncated_edges")  # cam[int(ymin * H):int(ymax * H), ...]
mass_rounded_edges = _sliced(lambda v: int(np.round(v)), lambda v: int(np.round(v)), "mass_rounded_edges")
mass_inclusive_slice = _sliced(int, lambda v: int(v) + 1, "mass_inclusive_slice")  # a row and a column too many


def mass_strict_edges(cam, box):
    cam = _positive(cam)
    return _share(cam, _inside_mask(cam.shape, box, strict=True))


def _nan_answer(expected, got, case):
    return bool(np.isnan(np.asarray(got, np.float64)).any())


_EDGE_MESSAGE = ("Off by a pixel row or column at the box's edges: a pixel is inside when its centre (r + 0.5, "
                 "c + 0.5) lies in [ymin * H, ymax * H] x [xmin * W, xmax * W], edges included; slicing with "
                 "int() or round() gets the edges wrong.")

q1 = Exercise(
    name="10 q1: the share of a map's mass inside a box",
    func_name="mass_in_box",
    cases=_mass_cases,
    reference=box_mass_share,
    forbidden=[box_mass_share, metrics.energy_pointing_game],
    hint=["Two sums and a ratio: the map summed over the pixels inside the box, over the map summed everywhere. "
          "Decide first what counts as mass (negative values do not), which pixels are inside (look at each "
          "pixel's centre, scaled y by the height and x by the width), and what a map with no mass at all "
          "should give.",
          "np.maximum(cam, 0) clips the negatives; np.arange(H)[:, None] + 0.5 and np.arange(W)[None, :] + 0.5 "
          "are the pixel centres, and comparing them with the box's edges in pixels (>= and <=) gives a boolean "
          "mask that cam[mask].sum() reads; guard the division when the total is 0."],
    mistakes=[
        (_nan_answer, "NaN: a map without positive mass (all zero or all negative) has nothing to share; return "
                      "0.0 there instead of dividing by 0."),
        (gives(mass_without_relu), "Negative values look counted as mass: clip the map at 0 (np.maximum(cam, 0)) "
                                   "before summing."),
        (gives(mass_of_abs), "abs() turns negative evidence into mass: clip at 0 instead (np.maximum(cam, 0))."),
        (gives(mass_after_min_max), "The map looks min-max normalized first: that subtracts its minimum and "
                                    "moves mass around; a share needs no normalization at all."),
        (gives(mean_inside), "This looks like the mean of the map over the box's pixels: divide the mass inside "
                             "by the map's total, not by the box's pixel count."),
        (gives(mass_over_area), "This looks like the share divided by the box's area (the 'x uniform' ratio): "
                                "return the share itself."),
        (gives(mass_xy_swapped), "Your box looks read as [xmin, ymin, xmax, ymax]: the order is [ymin, xmin, "
                                 "ymax, xmax]."),
        (gives(mass_height_width_mixed), "y looks scaled by the width and x by the height: ymin * H (the number "
                                         "of rows, cam.shape[0]), xmin * W (cam.shape[1])."),
        (gives(mass_strict_edges), _EDGE_MESSAGE),
        (gives(mass_truncated_edges), _EDGE_MESSAGE),
        (gives(mass_rounded_edges), _EDGE_MESSAGE),
        (gives(mass_inclusive_slice), _EDGE_MESSAGE),
    ],
    notebook=NOTEBOOK,
    compare=close(atol=1e-5, rtol=1e-4),
    description=("Write `mass_in_box(cam, box)`: the share of the map's mass (its values clipped at 0) over the "
                 "pixels whose centre lies in the normalized [ymin, xmin, ymax, xmax] box, edges included; 0.0 "
                 "for a map without positive mass."),
)


# ----------------------------------------------------------------------------------------------------------
# q2: one map box against several instances of its label


def best_instance_iou(box, gt_boxes):
    """The best IoU of ``box`` (normalized [ymin, xmin, ymax, xmax], or None: the map gave no box) with any of
    ``gt_boxes`` ((K, 4), K >= 1: the instances of one label): max over k of IoU(box, gt_boxes[k]); 0.0 for None.

    How camlab scores a photo that holds several instances of its label (``camlab.demo``, notebooks 09 and 10).
    """
    gt = boxes.check_boxes(gt_boxes, "gt_boxes")
    if gt.ndim != 2 or len(gt) == 0:
        raise ValueError(f"gt_boxes must be (K, 4) boxes with K >= 1 (the instances of the label); got shape "
                         f"{gt.shape}. Wrap a single box in a list: [box].")
    if box is None:
        return 0.0
    return float(boxes.pairwise_iou(box, gt).max())


def _instance_cases(seed=0):
    generator = rng(seed + 102)
    left, right = [0.2, 0.05, 0.7, 0.4], [0.3, 0.55, 0.8, 0.95]
    spanning = [0.2, 0.05, 0.8, 0.95]  # the box enclosing both: what a map spilling over two objects gives
    instances = np.array([random_box(generator) for _ in range(3)], np.float32)
    pick = int(generator.integers(0, 3))
    near = instances[pick] + np.float32(generator.uniform(-0.04, 0.04))
    return [
        Case(([0.25, 0.1, 0.7, 0.45], [left]), label="one instance"),
        Case(([0.3, 0.6, 0.8, 0.9], [[0.1, 0.5, 0.4, 0.7], right, [0.85, 0.1, 0.95, 0.3], [0.0, 0.0, 0.5, 0.65]]),
             label="four instances: the box is on the second one (the last one is the largest)"),
        Case(([0.3, 0.6, 0.8, 0.9], [left, right]), label="two instances: the box is on the second one"),
        Case((spanning, [left, right]), label="a box spanning two instances (it matches neither well)"),
        Case((None, [left, right]), label="no box (None): the map gave none"),
        Case(([0.0, 0.0, 1.0, 1.0], [left, right, [0.85, 0.1, 0.95, 0.2]]),
             label="the whole image against three instances (one of them tiny)"),
        Case(([0.0, 0.0, 0.15, 0.2], [left, right]), label="a box apart from every instance"),
        Case(([0.5, 0.5, 0.5, 0.5], [left, right]), label="a zero-area box (a point)"),
        Case(([0.25, 0.1, 0.7, 0.45], [[0.4, 0.2, 0.4, 0.3], left]), label="a zero-area instance, then a real one"),
        Case(([0.3, 0.6, 0.8, 0.9], [right, right]), label="the same instance twice (a tie)"),
        Case((np.array([0.2, 0.1, 0.65, 0.5], np.float32), np.array([left, right], np.float32)),
             label="float32 arrays, as the notebook's boxes are"),
        Case((near, instances), label="three random instances and a box near one of them"),
        Case((np.array(random_box(generator), np.float32), instances), label="three random instances, a random box"),
    ]


def _each_iou(box, gt_boxes):
    return [boxes.iou(box, gt) for gt in gt_boxes]


def iou_with_first(box, gt_boxes):
    return 0.0 if box is None else boxes.iou(box, gt_boxes[0])


def mean_iou(box, gt_boxes):
    return 0.0 if box is None else float(np.mean(_each_iou(box, gt_boxes)))


def summed_iou(box, gt_boxes):
    return 0.0 if box is None else float(np.sum(_each_iou(box, gt_boxes)))


def worst_iou(box, gt_boxes):
    return 0.0 if box is None else float(np.min(_each_iou(box, gt_boxes)))


def iou_with_enclosing_box(box, gt_boxes):
    """The instances merged into the one box around them all, then one IoU."""
    gt = np.asarray(gt_boxes, np.float64)
    merged = [gt[:, 0].min(), gt[:, 1].min(), gt[:, 2].max(), gt[:, 3].max()]
    return 0.0 if box is None else boxes.iou(box, merged)


def iou_with_largest(box, gt_boxes):
    """Only the largest instance (by area) is scored."""
    return 0.0 if box is None else boxes.iou(box, gt_boxes[int(np.argmax(boxes.area(gt_boxes)))])


def index_of_best(box, gt_boxes):
    return 0 if box is None else int(np.argmax(_each_iou(box, gt_boxes)))


q2 = Exercise(
    name="10 q2: the best IoU over the instances of a label",
    func_name="best_iou",
    cases=_instance_cases,
    reference=best_instance_iou,
    hint=["A photo can hold several objects of its label, and the map gives one box: score it against the "
          "instance it fits best, one IoU per instance and the best of them. A map that gave no box has "
          "found nothing.",
          "`iou` (imported at the top from camlab.boxes, notebook 07's answer) gives the IoU of one pair; loop "
          "over the rows of gt_boxes (or use camlab.boxes.pairwise_iou for all at once) and take max; test "
          "`box is None` first."],
    mistakes=[
        (lambda expected, got, case: got is None, "None for no box: a map that gave no box scores 0.0."),
        (gives(iou_with_first), "Only the first instance looks scored: take the best IoU over all of them."),
        (gives(iou_with_enclosing_box), "This looks like the IoU with one box around all the instances: score "
                                        "the box against each instance on its own and keep the best."),
        (gives(mean_iou), "This looks like the mean IoU over the instances: keep the best one (max)."),
        (gives(summed_iou), "This looks like the sum of the IoUs: keep the best one (max); an IoU is never above 1."),
        (gives(worst_iou), "This looks like the worst IoU (min): keep the best one (max)."),
        (gives(iou_with_largest), "Only the largest instance looks scored: take the best IoU over all of them."),
        (gives(index_of_best), "This looks like the index of the best instance: return its IoU."),
    ],
    notebook=NOTEBOOK,
    compare=close(atol=1e-6, rtol=1e-5),
    description=("Write `best_iou(box, gt_boxes)`: the best IoU of one normalized box (or None: 0.0) with any of "
                 "the (K, 4) boxes of one label."),
)

EXERCISES = [q1, q2]
