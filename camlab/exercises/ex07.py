"""Exercises of notebook 07_iou: Intersection over Union, one pair, all pairs, and a whole set.

- ``q1``: ``get_iou(boxA, boxB)`` - IoU of two normalized ``[ymin, xmin, ymax, xmax]`` boxes (0 for disjoint or
  zero-area boxes).
- ``q2``: ``pairwise_iou(boxes_a, boxes_b)`` - the (N, M) table of IoUs, vectorized.
- ``q3``: ``gt_known_accuracy(pred_boxes, gt_boxes, iou_threshold=0.5)`` - the share of images whose predicted
  box reaches ``iou_threshold`` with the ground truth (no box = a miss).

The references are camlab's own functions: ``camlab.boxes.iou``, ``camlab.boxes.pairwise_iou``, and
``box_accuracy`` below (built on ``camlab.boxes.iou``).
"""
import numpy as np

from camlab import boxes
from camlab.exercises.core import Case, Exercise, close, gives
from camlab.exercises.fixtures import Variants, iou_cases, iou_mistakes, random_box, rng

NOTEBOOK = "07_iou"

# ----------------------------------------------------------------------------------------------------------
# q1: IoU of two boxes


q1 = Exercise(
    name="07 q1: IoU of two boxes",
    func_name="get_iou",
    cases=iou_cases,
    reference=boxes.iou,
    hint=["IoU = overlap area / union area. The overlap of two boxes is itself a box (the inner edges of the "
          "two), and it can be empty: think about what its height and width are when the boxes are apart, in y, "
          "in x, or in both. Two empty boxes have an empty union too.",
          "Python's max and min (or np.maximum and np.minimum) find the overlap's edges and clamp a negative side "
          "to 0; the union counts the overlap once; compare the union with 0 before dividing."],
    mistakes=iou_mistakes(),
    notebook=NOTEBOOK,
    compare=close(atol=1e-6, rtol=1e-5),
    description="Write `get_iou(boxA, boxB)` for normalized [ymin, xmin, ymax, xmax] boxes; a float in [0, 1].",
)


# ----------------------------------------------------------------------------------------------------------
# q2: all pairs at once

def _pairwise_cases(seed=0):
    generator = rng(seed + 22)
    randoms = np.array([random_box(generator) for _ in range(5)], np.float32)
    a = np.array([[0.1, 0.2, 0.6, 0.7], [0.0, 0.0, 0.5, 0.4], [0.3, 0.3, 0.3, 0.3]], np.float32)
    b = np.array([[0.1, 0.2, 0.6, 0.7], [0.5, 0.5, 0.9, 0.9], [0.0, 0.25, 1.0, 0.75], [0.0, 0.0, 1.0, 1.0]],
                 np.float32)
    grid = np.array([[y, x, y + 0.3, x + 0.4] for y in (0.0, 0.35, 0.7) for x in (0.0, 0.3, 0.6)], np.float32)
    a, b, grid = Variants(rng(seed + 72), public=seed == 0).boxes(a, b, grid)  # hidden seeds: the same IoUs
    return [
        Case((a[:1], b[:1]), label="one box against one box: shape (1, 1)"),
        Case((a, b), label="3 boxes against 4 (with disjoint pairs and a zero-area box): shape (3, 4)"),
        Case((a, b[:3]), label="3 boxes against 3: still the full (3, 3) table, not 3 numbers"),
        Case((grid, grid[::-1]), label="9 boxes on a grid against the same boxes reversed: shape (9, 9)"),
        Case((randoms[:2], randoms[2:]), label="2 random boxes against 3 random boxes: shape (2, 3)"),
        Case((a[1:], a[1:]), label="2 boxes against themselves, one of zero area (its union with itself is 0)"),
    ]


q2 = Exercise(
    name="07 q2: IoU of every pair, vectorized",
    func_name="pairwise_iou",
    cases=_pairwise_cases,
    reference=boxes.pairwise_iou,
    hint=["The same formula as q1, for every pair at once: give the two arrays shapes that broadcast to an "
          "N x M table of pairs, and every step of q1 becomes one array operation. The zero-union guard matters "
          "here too.",
          "Indexing with None adds an axis ((N, 1, 4) against (1, M, 4)); np.maximum / np.minimum broadcast; "
          "np.clip(x, 0, None) clamps; np.divide(..., out=..., where=...) skips the 0 / 0."],
    mistakes=[(lambda expected, got, case: np.ndim(got) == 1,
               "One IoU per index (boxes_a[i] with boxes_b[i]) instead of the (N, M) table of every pair: "
               "broadcast with [:, None] and [None, :]."),
              (lambda expected, got, case: np.ndim(got) == 2 and np.shape(expected)[0] != np.shape(expected)[1] and
               np.shape(got) == np.shape(expected)[::-1] and np.allclose(np.transpose(got), expected, atol=1e-6),
               "Your table looks transposed: row i is boxes_a[i], column j is boxes_b[j], shape (N, M)."),
              *iou_mistakes(pairwise=True)],
    notebook=NOTEBOOK,
    compare=close(atol=1e-6, rtol=1e-5),
    description="Write `pairwise_iou(boxes_a, boxes_b)`: (N, 4) and (M, 4) boxes -> the (N, M) array of IoUs.",
)


# ----------------------------------------------------------------------------------------------------------
# q3: GT-known localization accuracy over a set of images

def box_accuracy(pred_boxes, gt_boxes, iou_threshold=0.5):
    """The share of images whose predicted box has IoU >= ``iou_threshold`` with its ground-truth box.

    accuracy = #{i : box_i is not None and IoU(box_i, gt_i) >= iou_threshold} / N

    ``pred_boxes`` holds one box or ``None`` ("the map gave no box": a miss) per image; ``gt_boxes`` is (N, 4).
    This is GT-known localization accuracy (the class is taken as known) when the boxes come from the maps of
    the true classes.
    """
    if len(pred_boxes) != len(gt_boxes):
        raise ValueError(f"pred_boxes has {len(pred_boxes)} entries but gt_boxes has {len(gt_boxes)}: give one "
                         f"predicted box (or None) per ground-truth box.")
    if len(gt_boxes) == 0:
        raise ValueError("no images: the accuracy of an empty set is undefined; pass at least one box.")
    hits = [box is not None and boxes.iou(box, gt) >= iou_threshold for box, gt in zip(pred_boxes, gt_boxes)]
    return float(np.mean(hits))


def _accuracy_cases(seed=0):
    generator = rng(seed + 23)
    random_gt = [random_box(generator) for _ in range(4)]
    grow = lambda b, f: [b[0] - f * (b[2] - b[0]), b[1] - f * (b[3] - b[1]), b[2] + f * (b[2] - b[0]),
                         b[3] + f * (b[3] - b[1])]
    random_pred = [grow(box, float(generator.uniform(0.0, 0.05))) for box in random_gt]  # IoU > 0.8: hits
    random_pred[int(generator.integers(0, 4))] = None
    gt = [[0.0, 0.0, 1.0, 1.0], [0.1, 0.1, 0.6, 0.6], [0.2, 0.3, 0.8, 0.9], [0.0, 0.5, 0.5, 1.0]]
    good = [[0.0, 0.0, 1.0, 0.9], [0.1, 0.1, 0.6, 0.55], [0.2, 0.3, 0.8, 0.85], [0.0, 0.5, 0.45, 1.0]]
    moved = Variants(rng(seed + 73), public=seed == 0).boxes  # hidden seeds: other boxes, the same IoUs
    return [
        Case(moved(good, gt), label="four good boxes"),
        Case(moved([good[0], None, good[2], [0.6, 0.0, 1.0, 0.4]], gt),
             label="a good box, no box (None), a good box, a box in the wrong place"),
        Case(moved([[0.0, 0.0, 1.0, 0.5], [0.25, 0.25, 0.75, 0.5]], [gt[0], [0.25, 0.25, 0.75, 0.75]]),
             label="IoUs of exactly 0.5 (they count: IoU >= 0.5)"),
        Case(moved([[0.0, 0.0, 1.0, 0.4], None, [0.2, 0.3, 0.5, 0.9]], gt[:3]), {"iou_threshold": 0.3},
             label="iou_threshold=0.3"),
        Case(moved([None, None], gt[:2]), label="no box at all"),
        Case((random_pred, random_gt), label="four random boxes grown a little (hits), one of them missing (None)"),
    ]


def _skipping_none(pred_boxes, gt_boxes, iou_threshold=0.5):
    pairs = [(b, g) for b, g in zip(pred_boxes, gt_boxes) if b is not None]
    return sum(boxes.iou(b, g) >= iou_threshold for b, g in pairs) / len(pairs) if pairs else 0.0


def _strict(pred_boxes, gt_boxes, iou_threshold=0.5):
    return float(np.mean([b is not None and boxes.iou(b, g) > iou_threshold for b, g in zip(pred_boxes, gt_boxes)]))


def _mean_iou(pred_boxes, gt_boxes, iou_threshold=0.5):
    return float(np.mean([0.0 if b is None else boxes.iou(b, g) for b, g in zip(pred_boxes, gt_boxes)]))


def _hit_count(pred_boxes, gt_boxes, iou_threshold=0.5):
    return float(sum(b is not None and boxes.iou(b, g) >= iou_threshold for b, g in zip(pred_boxes, gt_boxes)))


q3 = Exercise(
    name="07 q3: GT-known localization accuracy",
    func_name="gt_known_accuracy",
    cases=_accuracy_cases,
    reference=box_accuracy,
    hint=["An image counts as a hit when its box overlaps the truth enough (IoU at least the threshold, equality "
          "included). An image with no box is a miss, not an image to leave out: divide by all the images.",
          "Your get_iou (or camlab.boxes.iou) per pair, zip(pred_boxes, gt_boxes), `box is None`, and np.mean "
          "of a list of booleans gives the fraction."],
    mistakes=[(gives(_skipping_none), "Images with no box (None) look left out: they are misses, count them in "
                                      "the total."),
              (gives(_strict), "An IoU exactly at the threshold looks like a miss in your answer: the rule is "
                               "IoU >= iou_threshold."),
              (gives(_mean_iou), "This looks like the mean IoU: count the hits (IoU >= iou_threshold) instead."),
              (gives(_hit_count), "This looks like the number of hits: divide by the number of images."),
              (gives(lambda pred_boxes, gt_boxes, iou_threshold=0.5: box_accuracy(pred_boxes, gt_boxes)),
               "The `iou_threshold` argument looks ignored (always 0.5): use the one you are given.")],
    notebook=NOTEBOOK,
    compare=close(atol=1e-6),
    description=("Write `gt_known_accuracy(pred_boxes, gt_boxes, iou_threshold=0.5)`: the fraction of images whose "
                 "predicted box (or None) has IoU >= iou_threshold with its ground-truth box."),
)

EXERCISES = [q1, q2, q3]
