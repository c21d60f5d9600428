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
from camlab.exercises.core import Case, Exercise, close
from camlab.exercises.fixtures import iou_cases, random_box, rng

NOTEBOOK = "07_iou"

# ----------------------------------------------------------------------------------------------------------
# q1: IoU of two boxes


q1 = Exercise(
    name="07 q1: IoU of two boxes",
    func_name="get_iou",
    cases=iou_cases,
    reference=boxes.iou,
    hint=("The intersection is the box [max of the ymins, max of the xmins, min of the ymaxs, min of the xmaxs]. "
          "Its height and width can come out negative when the boxes do not overlap: clamp EACH of them at 0 "
          "before multiplying (two negative sides multiply to a positive area!). Union = area A + area B - "
          "intersection; when the union is 0 return 0."),
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
    return [
        Case((a[:1], b[:1]), label="one box against one box: shape (1, 1)"),
        Case((a, b), label="3 boxes against 4 (with disjoint pairs and a zero-area box): shape (3, 4)"),
        Case((a, b[:3]), label="3 boxes against 3: still the full (3, 3) table, not 3 numbers"),
        Case((grid, grid[::-1]), label="9 boxes on a grid against the same boxes reversed: shape (9, 9)"),
        Case((randoms[:2], randoms[2:]), label="2 random boxes against 3 random boxes: shape (2, 3)"),
    ]


q2 = Exercise(
    name="07 q2: IoU of every pair, vectorized",
    func_name="pairwise_iou",
    cases=_pairwise_cases,
    reference=boxes.pairwise_iou,
    hint=("Give the arrays broadcastable shapes: boxes_a[:, None, :] is (N, 1, 4) and boxes_b[None, :, :] is "
          "(1, M, 4); then np.maximum / np.minimum of the corners give all N x M intersections at once. "
          "np.clip(..., 0, None) clamps the sides; np.divide(..., where=union > 0) avoids 0 / 0."),
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
    return [
        Case((good, gt), label="four good boxes"),
        Case(([good[0], None, good[2], [0.6, 0.0, 1.0, 0.4]], gt),
             label="a good box, no box (None), a good box, a box in the wrong place"),
        Case(([[0.0, 0.0, 1.0, 0.5], [0.25, 0.25, 0.75, 0.5]], [gt[0], [0.25, 0.25, 0.75, 0.75]]),
             label="IoUs of exactly 0.5 (they count: IoU >= 0.5)"),
        Case(([[0.0, 0.0, 1.0, 0.4], None, [0.2, 0.3, 0.5, 0.9]], gt[:3]), {"iou_threshold": 0.3},
             label="iou_threshold=0.3"),
        Case(([None, None], gt[:2]), label="no box at all"),
        Case((random_pred, random_gt), label="four random boxes grown a little (hits), one of them missing (None)"),
    ]


q3 = Exercise(
    name="07 q3: GT-known localization accuracy",
    func_name="gt_known_accuracy",
    cases=_accuracy_cases,
    reference=box_accuracy,
    hint=("Count the images whose box is not None and whose IoU with the ground truth is >= iou_threshold, and "
          "divide by the number of ALL images (a missing box is a miss, not something to skip)."),
    notebook=NOTEBOOK,
    compare=close(atol=1e-6),
    description=("Write `gt_known_accuracy(pred_boxes, gt_boxes, iou_threshold=0.5)`: the fraction of images whose "
                 "predicted box (or None) has IoU >= iou_threshold with its ground-truth box."),
)

EXERCISES = [q1, q2, q3]
