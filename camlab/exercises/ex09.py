"""Exercises of notebook 09_comparison: localization accuracy from maps, at one threshold and swept.

- ``q1``: ``gt_known_loc(cams, gt_boxes, threshold=0.2)`` - GT-known localization accuracy (Zhou et al., CVPR
  2016): the share of maps whose box (the largest region above ``threshold`` times the map's maximum) reaches
  IoU >= 0.5 with the image's ground-truth box; a map that gives no box is a miss.
- ``q2``: ``box_acc_sweep(cams, gt_boxes, thresholds)`` - one MaxBoxAcc sweep (V1: IoU 0.5, the largest region;
  Choe et al., CVPR 2020): the maps min-max normalized, the accuracy at each threshold, the best of them and
  the threshold where it is first reached, as ``{"accuracy", "max_box_acc", "best_threshold"}``.

The references are camlab's: ``camlab.metrics.localization_accuracy`` and ``max_box_acc_sweep`` below (its
answer, read off ``camlab.metrics.max_box_acc(..., iou_thresholds=(0.5,), multi_contour=False)``). Both take
``cams`` as an (N, H, W) array or a list of 2-D maps of any sizes, and ``gt_boxes`` with one normalized
``[ymin, xmin, ymax, xmax]`` box per map.

The maps of the cases are built in the normalized scale first (values kept at least 0.004 away from every
threshold of their case, so float32 and float64 arithmetic agree), then scaled to peaks other than 1 and
floors other than 0: dividing by the maximum, min-max normalizing and thresholding the raw map then disagree.
"""
import cv2
import numpy as np

from camlab import boxes, metrics
from camlab.exercises.core import Case, Exercise, close, gives, short_repr
from camlab.exercises.fixtures import blobs, gaussian, rng

NOTEBOOK = "09_comparison"
SHAPE = (20, 30)  # H != W: rows and columns cannot be mixed up unnoticed
_GAP = 0.004      # how far a normalized map value stays from every threshold of its case


def _box(rect, shape=SHAPE):
    """Pixel rows y0:y1, columns x0:x1 -> the normalized box [ymin, xmin, ymax, xmax]."""
    y0, y1, x0, x1 = rect
    return [y0 / shape[0], x0 / shape[1], y1 / shape[0], x1 / shape[1]]


def _clear_of(m, thresholds):
    """``m`` with every value within ``_GAP`` of a threshold moved ``2 * _GAP`` up (or down near 1)."""
    m = np.asarray(m, np.float64).copy()
    for t in np.atleast_1d(thresholds):
        near = np.abs(m - t) < _GAP
        m[near] = np.where(m[near] + 2 * _GAP < 1.0, m[near] + 2 * _GAP, m[near] - 2 * _GAP)
    return m


def _grown(rect, pixels, shape=SHAPE):
    """``rect`` grown by ``pixels`` on every side, inside the map."""
    y0, y1, x0, x1 = rect
    return max(y0 - pixels, 0), min(y1 + pixels, shape[0]), max(x0 - pixels, 0), min(x1 + pixels, shape[1])


def _random_map(generator, shape, thresholds):
    """A map in [0, 1] with min 0 and max 1 (a bump, sometimes a second one), and the box of the first bump."""
    height, width = shape
    center = (float(generator.uniform(0.3, 0.7) * height), float(generator.uniform(0.3, 0.7) * width))
    sigma = float(generator.uniform(0.12, 0.22) * min(shape))
    m = gaussian(shape, center, sigma).astype(np.float64)
    if generator.random() < 0.5:  # a second, weaker bump somewhere else
        m += gaussian(shape, (float(generator.uniform(0, height)), float(generator.uniform(0, width))),
                      sigma / 2, peak=float(generator.uniform(0.3, 0.8)))
    m = (m - m.min()) / (m.max() - m.min())
    m = _clear_of(m, thresholds)
    m.flat[int(np.argmin(m))], m.flat[int(np.argmax(m))] = 0.0, 1.0
    jitter = generator.uniform(-0.6, 0.6, 4) * sigma
    gt = [(center[0] - 1.8 * sigma + jitter[0]) / height, (center[1] - 1.8 * sigma + jitter[1]) / width,
          (center[0] + 1.8 * sigma + jitter[2]) / height, (center[1] + 1.8 * sigma + jitter[3]) / width]
    return m, [float(np.clip(v, 0.0, 1.0)) for v in gt]


def _scaled(m, low, high):
    """``m`` (min 0, max 1) mapped to [low, high], float32."""
    return (low + (high - low) * np.asarray(m, np.float64)).astype(np.float32)


# ----------------------------------------------------------------------------------------------------------
# q1: GT-known localization accuracy at one threshold

def _three_levels(body, core, levels, shape=SHAPE):
    """A map with a floor, a body (the object) and a brighter core inside it: ``levels`` = (floor, body, core)."""
    floor, body_value, core_value = levels
    cam = np.full(shape, floor, np.float32)
    cam[body[0]:body[1], body[2]:body[3]] = body_value
    cam[core[0]:core[1], core[2]:core[3]] = core_value
    return cam


def _loc_cases(seed=0):
    generator = rng(seed + 91)
    on = [(3, 15, 4, 16), (6, 18, 12, 27), (2, 12, 15, 28)]  # objects (rows y0:y1, columns x0:x1)
    lit = [blobs(SHAPE, [rect, (rect[0] + 3, rect[1] - 3, rect[2] + 3, rect[3] - 3)], [0.5, 1.0]) for rect in on]
    elsewhere = blobs(SHAPE, [(12, 19, 1, 9)], [1.0])
    # the floor and the core change what a raw or min-max normalized threshold keeps; the body is the object
    bodies = [(3, 13, 3, 14), (8, 18, 14, 28), (4, 16, 9, 21)]
    cores = [(6, 9, 6, 9), (11, 14, 19, 22), (8, 11, 13, 16)]
    # max 4, 0.2 of it is 0.8: a raw threshold keeps the floor, min-max loses the body at 1.2 (not at 1.6)
    high = [_three_levels(b, c, (0.6, v, 4.0)) for b, c, v in zip(bodies, cores, (1.2, 1.6, 1.6))]
    # max 0.5, 0.2 of it is 0.1: a raw threshold loses the bodies at 0.12 and 0.16, min-max the one at 0.12
    low = [_three_levels(b, c, (0.05, v, 0.5)) for b, c, v in zip(bodies, cores, (0.12, 0.16, 0.3))]
    half = blobs(SHAPE, [(0, 20, 0, 15)], [0.8])                                    # its box is the left half
    small_first = blobs(SHAPE, [(2, 12, 4, 26), (15, 18, 2, 5)], [0.6, 1.0])      # a small region below
    ring = blobs(SHAPE, [(5, 15, 5, 27), (5, 15, 5, 12)], [1.0, 2.0])              # 1.0 is exactly half of 2.0
    plateau = blobs(SHAPE, [(4, 16, 6, 20)], [0.7])                                 # a flat top: max everywhere
    sizes = [(20, 30), (24, 16), (30, 30)]
    mixed, mixed_gt = [], []
    for shape in sizes:
        m, gt = _random_map(generator, shape, [0.2])
        mixed.append(_scaled(m, 0.0, float(generator.uniform(0.3, 3.0))))
        mixed_gt.append(gt)
    random_sets = []
    for k, threshold in enumerate((float(generator.choice([0.15, 0.2, 0.3])), float(generator.choice([0.35, 0.45])))):
        cams, gts = [], []
        for _ in range(5):
            m, gt = _random_map(generator, SHAPE, [threshold])
            floor = float(generator.uniform(0.0, 0.6))
            m = _clear_of(floor + (1.0 - floor) * m, [threshold])  # min > 0 when floor > 0, max still 1
            cams.append(_scaled(m, 0.0, float(generator.uniform(0.2, 3.0))))
            gts.append(gt)
        random_sets.append(Case((np.stack(cams), np.array(gts, np.float32), threshold),
                                label=f"five random maps (peaks from 0.2 to 3, floors up to 0.6 of the peak), "
                                      f"threshold={threshold}"))
    return [
        Case((np.stack(lit + [elsewhere]), [_box(_grown(r, 1)) for r in on] + [_box((1, 9, 18, 29))], 0.2),
             label="three maps lit on their object, one lit away from it (peak 1, min 0)"),
        Case((np.stack(high), np.array([_box(b) for b in bodies], np.float32), 0.2),
             label="maps peaking at 4.0 on a floor of 0.6, the objects at 1.2 and 1.6 (0.2 of the max is 0.8)"),
        Case((np.stack(low), np.array([_box(b) for b in bodies], np.float32), 0.2),
             label="maps peaking at 0.5 on a floor of 0.05, the objects at 0.12, 0.16, 0.3 (0.2 of the max is 0.1)"),
        Case((np.stack([np.zeros(SHAPE, np.float32), lit[0]]), [_box((0, 20, 0, 30)), _box(on[0])], 0.2),
             label="an all-zero map (no box: a miss, still counted) and a map lit on its object"),
        Case((np.stack([half, lit[1]]), [[0.0, 0.0, 1.0, 1.0], _box(on[1])], 0.2),
             label="a box with IoU exactly 0.5 (the left half of the image against the whole image) and a hit"),
        Case(([small_first], [_box((2, 12, 4, 26))], 0.2),
             label="a large region (0.6) above a small, brighter one (1.0): the largest region gives the box"),
        Case(([ring], [_box((5, 15, 5, 12))], 0.5),
             label="threshold=0.5, a ring at exactly half the max (1.0 of 2.0): only pixels ABOVE it count"),
        Case(([plateau, lit[2]], [_box((4, 16, 6, 20)), _box(on[2])], 1.0),
             label="threshold=1.0: no pixel is above 100% of its map's maximum, not even on a flat top"),
        Case((mixed, mixed_gt, 0.2), label="a list of three random maps of different sizes (20x30, 24x16, 30x30)"),
        *random_sets,
    ]


def _largest_box(mask):
    """The box of the largest 8-connected region of a boolean mask (None without one), camlab's region rule."""
    stats = boxes.region_stats(mask)
    if not len(stats):
        return None
    return boxes.regions_to_boxes(stats[np.argsort(-stats[:, 4], kind="stable")[:1]], *mask.shape)[0]


def _first_contour_box(mask):
    """The box of the first contour OpenCV lists (``contours[0]``), not of the largest region."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    x, y, w, h = cv2.boundingRect(contours[0])
    return [y / mask.shape[0], x / mask.shape[1], (y + h) / mask.shape[0], (x + w) / mask.shape[1]]


def _relative(cam, threshold):
    return boxes.relative_mask(np.asarray(cam, np.float32), threshold)


def _hits(cams, gt_boxes, threshold, mask=_relative, box=_largest_box, at_least=True):
    """Hit (True) or miss per map under a variant of the rule: ``mask(cam, threshold)`` -> ``box(mask)``."""
    found = [box(mask(cam, threshold)) for cam in cams]
    ious = [0.0 if b is None else float(boxes.iou(b, gt)) for b, gt in zip(found, gt_boxes)]
    return [(i >= 0.5) if at_least else (i > 0.5) for i in ious], ious, found


def _min_max(cam):
    cam = np.asarray(cam, np.float32)
    low, high = cam.min(), cam.max()
    return (cam - low) / (high - low) if high > low else np.zeros_like(cam)


def _loc_strict(cams, gt_boxes, threshold=0.2):
    return float(np.mean(_hits(cams, gt_boxes, threshold, at_least=False)[0]))


def _loc_absolute(cams, gt_boxes, threshold=0.2):
    return float(np.mean(_hits(cams, gt_boxes, threshold, mask=lambda cam, t: np.asarray(cam) > t)[0]))


def _loc_min_max(cams, gt_boxes, threshold=0.2):
    return float(np.mean(_hits(cams, gt_boxes, threshold, mask=lambda cam, t: _min_max(cam) > t)[0]))


def _loc_at_or_above(cams, gt_boxes, threshold=0.2):
    mask = lambda cam, t: (np.asarray(cam) >= t * np.max(cam)) if np.max(cam) > 0 else np.zeros(np.shape(cam), bool)
    return float(np.mean(_hits(cams, gt_boxes, threshold, mask=mask)[0]))


def _loc_first_contour(cams, gt_boxes, threshold=0.2):
    return float(np.mean(_hits(cams, gt_boxes, threshold, box=_first_contour_box)[0]))


def _loc_mean_iou(cams, gt_boxes, threshold=0.2):
    return float(np.mean(_hits(cams, gt_boxes, threshold)[1]))


def _loc_skipping_no_box(cams, gt_boxes, threshold=0.2):
    hits, _, found = _hits(cams, gt_boxes, threshold)
    kept = [h for h, b in zip(hits, found) if b is not None]
    return float(np.mean(kept)) if kept else 0.0


def _loc_hit_count(cams, gt_boxes, threshold=0.2):
    return float(np.sum(_hits(cams, gt_boxes, threshold)[0]))


LOC_MISTAKES = [  # in this order: on the ring case a raw threshold gives what ">=" gives
    (gives(_loc_strict), "An IoU of exactly 0.5 looks like a miss in your answer: a hit is IoU >= 0.5."),
    (gives(_loc_at_or_above), "Pixels equal to threshold * max look included: a region is the pixels strictly "
                              "ABOVE it (>), so at threshold 1.0 no pixel passes."),
    (gives(_loc_absolute), "Your boxes look thresholded on the raw map (cam > threshold): the threshold is a "
                           "fraction of each map's own maximum (cam > threshold * cam.max()), as cam_to_bbox does."),
    (gives(_loc_min_max), "Your maps look min-max normalized before thresholding: the CAM paper's rule divides by "
                          "the maximum only (threshold * cam.max()), so a map with a floor keeps it."),
    (gives(_loc_first_contour), "Your box looks like contours[0]'s: OpenCV lists contours in no useful order; take "
                                "the largest region (cam_to_bbox does)."),
    (gives(_loc_skipping_no_box), "Maps without a box look left out: they are misses, count them in the total."),
    (gives(_loc_mean_iou), "This looks like the mean IoU: count the hits (IoU >= 0.5) instead and divide by the "
                           "number of maps."),
    (gives(_loc_hit_count), "This looks like the number of hits: divide by the number of maps."),
]

q1 = Exercise(
    name="09 q1: GT-known localization accuracy from maps",
    func_name="gt_known_loc",
    cases=_loc_cases,
    reference=metrics.localization_accuracy,
    forbidden=[metrics.localization_accuracy, metrics.region_ious],
    hint=["GT-known: every map is already the map of the image's true class, so each image is a hit or a miss on "
          "its own. Take the box the map gives at the threshold (its largest region above threshold times the "
          "map's own maximum, notebook 06's rule); it is a hit when its IoU with the ground truth is at least "
          "0.5. A map that gives no box is a miss, and it still counts in the total.",
          "cam_to_bbox(cam, threshold) (notebook 06; None when no pixel passes) and iou(box, gt) (notebook 07) "
          "for each pair of zip(cams, gt_boxes); the accuracy is the number of hits over len(cams) (np.mean of a "
          "list of booleans does both)."],
    mistakes=LOC_MISTAKES,
    notebook=NOTEBOOK,
    compare=close(atol=1e-6),
    description=("Write `gt_known_loc(cams, gt_boxes, threshold=0.2)`: the fraction of maps whose box (largest "
                 "region above threshold x the map's max) has IoU >= 0.5 with its ground-truth box."),
)


# ----------------------------------------------------------------------------------------------------------
# q2: one MaxBoxAcc sweep

SWEEP_KEYS = ("accuracy", "max_box_acc", "best_threshold")


def max_box_acc_sweep(cams, gt_boxes, thresholds):
    """One MaxBoxAcc (V1) sweep, camlab's way (``camlab.metrics.max_box_acc`` at IoU 0.5, largest region only).

    Each map is min-max normalized ((cam - min) / (max - min); a flat map becomes zeros: no box at any
    threshold). ``accuracy[j]``: the share of maps whose largest region above ``thresholds[j]`` has a box with
    IoU >= 0.5 with the ground truth; ``max_box_acc = max(accuracy)``; ``best_threshold``: the first of
    ``thresholds`` where that maximum is reached (for ascending thresholds, the lowest).
    Returns ``{"accuracy": (T,) array, "max_box_acc": float, "best_threshold": float}``.
    """
    result = metrics.max_box_acc(cams, gt_boxes, iou_thresholds=(0.5,), cam_thresholds=thresholds,
                                 multi_contour=False)
    return {"accuracy": result["curves"][0.5], "max_box_acc": result["per_iou"][0.5],
            "best_threshold": result["best_threshold"][0.5]}


def sweep_close(expected, got):
    """Comparator for q2's answer: a dict whose three keys each agree (``close``, atol 1e-6); None when they do."""
    if not isinstance(got, dict):
        return (f"expected a dict with the keys 'accuracy', 'max_box_acc' and 'best_threshold', got "
                f"{type(got).__name__} {short_repr(got)}")
    missing = [key for key in SWEEP_KEYS if key not in got]
    if missing:
        return (f"your dict has no key {missing[0]!r} (it needs 'accuracy', 'max_box_acc' and 'best_threshold'; "
                f"it has {sorted(map(str, got))})")
    for key in SWEEP_KEYS:
        difference = close(atol=1e-6)(expected[key], got[key])
        if difference:
            return f"{key!r}: {difference}"
    return None


def _curve_answer(curve, thresholds, best=None):
    curve = np.asarray(curve, np.float64)
    best = int(np.argmax(curve)) if best is None else best
    return {"accuracy": curve, "max_box_acc": float(curve[best]), "best_threshold": float(thresholds[best])}


def _sweep_with(rule, cams, gt_boxes, thresholds, last_best=False):
    """The sweep's answer with a variant ``rule(cams, gt_boxes, t) -> accuracy`` at each threshold."""
    curve = [rule(cams, gt_boxes, t) for t in thresholds]
    best = len(curve) - 1 - int(np.argmax(curve[::-1])) if last_best else None
    return _curve_answer(curve, thresholds, best)


def _min_maxed(cams):
    return [_min_max(cam) for cam in cams]


def _sweep_max_normalized(cams, gt_boxes, thresholds):
    return _sweep_with(metrics.localization_accuracy, cams, gt_boxes, thresholds)


def _sweep_raw(cams, gt_boxes, thresholds):
    return _sweep_with(_loc_absolute, cams, gt_boxes, thresholds)


def _sweep_strict(cams, gt_boxes, thresholds):
    return _sweep_with(_loc_strict, _min_maxed(cams), gt_boxes, thresholds)


def _sweep_at_or_above(cams, gt_boxes, thresholds):
    return _sweep_with(_loc_at_or_above, _min_maxed(cams), gt_boxes, thresholds)


def _sweep_last_best(cams, gt_boxes, thresholds):
    return _sweep_with(metrics.localization_accuracy, _min_maxed(cams), gt_boxes, thresholds, last_best=True)


def _sweep_first_contour(cams, gt_boxes, thresholds):
    rule = lambda maps, gts, t: float(np.mean(_hits(maps, gts, t, box=_first_contour_box)[0]))
    return _sweep_with(rule, _min_maxed(cams), gt_boxes, thresholds)


def _sweep_any_region(cams, gt_boxes, thresholds):
    """MaxBoxAccV2's box rule (every region's box may match) at IoU 0.5 only."""
    result = metrics.max_box_acc(cams, gt_boxes, iou_thresholds=(0.5,), cam_thresholds=thresholds)
    return _curve_answer(result["curves"][0.5], thresholds)


def _same_curve(expected, got):
    """The answer's accuracy curve is right (so a mistake is in what it made of the curve)."""
    return isinstance(got, dict) and close(atol=1e-6)(expected["accuracy"], got.get("accuracy")) is None


def _wrong_summary(expected, got, key, candidate):
    """Right curve, and ``got[key]`` is ``candidate`` where that is not the expected value."""
    if not _same_curve(expected, got):
        return False
    have = got.get(key)
    return close(atol=1e-6)(expected[key], have) is not None and close(atol=1e-6)(candidate, have) is None


def _v2_value(expected, got, case):
    """``max_box_acc`` is MaxBoxAccV2 (mean over IoU 0.3/0.5/0.7), or that mean with the largest region only."""
    cams, gt_boxes, thresholds = case.args
    return any(_wrong_summary(expected, got, "max_box_acc",
                              metrics.max_box_acc(cams, gt_boxes, cam_thresholds=thresholds, multi_contour=m)["value"])
               for m in (True, False))


def _threshold_as_accuracy(expected, got, case):
    """``max_box_acc`` holds the best threshold (or the two are swapped)."""
    return _wrong_summary(expected, got, "max_box_acc", expected["best_threshold"])


def _index_as_threshold(expected, got, case):
    """``best_threshold`` is the index of the best threshold, not the threshold."""
    index = list(np.asarray(case.args[2], np.float64)).index(expected["best_threshold"])
    return _wrong_summary(expected, got, "best_threshold", index)


def _mean_over_thresholds(expected, got, case):
    """``max_box_acc`` is the mean of the curve, not its maximum."""
    return _wrong_summary(expected, got, "max_box_acc", float(np.mean(expected["accuracy"])))


SWEEP_MISTAKES = [  # V2's boxes before contours[0]: on the decoy map both pick the small bright region
    (_threshold_as_accuracy, "Your 'max_box_acc' is the best THRESHOLD: MaxBoxAcc is the accuracy reached there "
                             "(the curve's maximum); the threshold goes under 'best_threshold'."),
    (_index_as_threshold, "Your 'best_threshold' looks like the index of the best threshold: give the threshold "
                          "itself, thresholds[index]."),
    (_mean_over_thresholds, "Your 'max_box_acc' looks like the mean of the curve: MaxBoxAcc is its maximum."),
    (_v2_value, "Your 'max_box_acc' looks like MaxBoxAccV2 (the mean over IoU 0.3, 0.5 and 0.7): this exercise "
                "asks for V1, IoU >= 0.5 only."),
    (gives(_sweep_any_region, sweep_close), "Your accuracy counts a map as a hit when ANY of its regions' boxes "
                                            "matches (MaxBoxAccV2's rule): V1 takes the box of the largest region "
                                            "only."),
    (gives(_sweep_first_contour, sweep_close), "Your box looks like contours[0]'s: OpenCV lists contours in no "
                                               "useful order; take the largest region (cam_to_bbox does)."),
    (gives(_sweep_max_normalized, sweep_close), "Your maps look divided by their maximum (cam_to_bbox on the raw "
                                                "map): MaxBoxAcc's thresholds are on the MIN-MAX normalized map, "
                                                "(cam - min) / (max - min)."),
    (gives(_sweep_raw, sweep_close), "Your thresholds look applied to the raw map: min-max normalize each map "
                                     "first, then keep the pixels above t."),
    (gives(_sweep_strict, sweep_close), "An IoU of exactly 0.5 looks like a miss in your answer: a hit is "
                                        "IoU >= 0.5."),
    (gives(_sweep_at_or_above, sweep_close), "Pixels equal to the threshold look included: a region is the "
                                             "pixels strictly ABOVE t (>), so at t = 0 the map's minimum is out."),
    (gives(_sweep_last_best, sweep_close), "Where several thresholds share the best accuracy, your "
                                           "'best_threshold' is the last of them: take the first (np.argmax does)."),
]


def _sweep_cases(seed=0):
    generator = rng(seed + 92)
    tenths = np.round(np.arange(0.0, 1.0, 0.1), 2).tolist()  # 0.0, 0.1, ..., 0.9
    on = [(3, 15, 4, 16), (6, 18, 12, 27), (2, 12, 15, 28), (10, 19, 2, 12)]
    gts = [_box(_grown(rect, 2)) for rect in on]  # IoUs from 0.53 to 0.59 with the objects: V2's 0.7 misses
    # object 0.45, core 1.0: accuracy 1 while the object is in (t < 0.45), then 0 (the core alone is too small)
    lit = [blobs(SHAPE, [rect, (rect[0] + 4, rect[1] - 4, rect[2] + 4, rect[3] - 4)], [0.45, 1.0]) for rect in on]
    # the same maps lifted onto a floor: min 0.5, max 2.9 (min-max gives the maps above back, the max does not)
    lifted = [_scaled(m, 0.5, 2.9) for m in lit]
    flat = np.full(SHAPE, 0.7, np.float32)
    # a large dim region (not the object) and a small bright one on the object: V1 misses, V2 would hit
    decoy = blobs(SHAPE, [(1, 19, 1, 16), (8, 14, 21, 27)], [0.35, 1.0])
    half = blobs(SHAPE, [(0, 20, 0, 15), (5, 15, 3, 12)], [0.55, 1.0])  # the left half: IoU exactly 0.5
    small_below = blobs(SHAPE, [(2, 12, 4, 26), (15, 18, 2, 5)], [0.6, 1.0])  # OpenCV lists the small one first
    background = blobs(SHAPE, [(4, 16, 6, 20)], [1.0])
    random_sets = []
    for k in range(2):
        thresholds = sorted(float(t) for t in generator.choice(np.round(np.arange(0.0, 1.0, 0.05), 2),
                                                                size=int(generator.integers(6, 11)), replace=False))
        cams, boxes_ = [], []
        for _ in range(5):
            m, gt = _random_map(generator, SHAPE, thresholds)
            low = float(generator.uniform(0.0, 0.5))
            cams.append(_scaled(m, low, low + float(generator.uniform(0.2, 3.0))))
            boxes_.append(gt)
        random_sets.append(Case((np.stack(cams), np.array(boxes_, np.float32), thresholds),
                                label=f"five random maps (floors up to 0.5, peaks up to 3.5), {len(thresholds)} "
                                      f"random thresholds"))
    sizes = [(20, 30), (24, 16), (30, 30)]
    mixed, mixed_gt = [], []
    for shape in sizes:
        m, gt = _random_map(generator, shape, tenths)
        mixed.append(_scaled(m, 0.0, float(generator.uniform(0.5, 2.0))))
        mixed_gt.append(gt)
    return [
        Case((np.stack(lit), gts, tenths),
             label="four maps on their objects (min 0, max 1), thresholds 0.0, 0.1, ..., 0.9: five tie for "
                   "the best"),
        Case((np.stack(lifted), np.array(gts, np.float32), tenths),
             label="the same maps on a floor: min 0.5, max 2.9 (min-max normalization brings them back)"),
        Case((np.stack([np.zeros(SHAPE, np.float32), flat, lit[0], lit[1]]), [gts[2], gts[3], gts[0], gts[1]],
              [0.1, 0.3, 0.5]),
             label="an all-zero map and a flat map (no box at any threshold: misses) with two maps on their "
                   "objects"),
        Case((np.stack([small_below, lit[1]]), [_box((2, 12, 4, 26)), gts[1]], [0.2, 0.4, 0.7]),
             label="a large region on the object above a small, brighter one: the largest region gives the box"),
        Case((np.stack([lit[0], _scaled(decoy, 0.2, 1.2), lit[2]]), [gts[0], _box((8, 14, 21, 27)), gts[2]],
              [0.2, 0.3, 0.4, 0.5, 0.6]),
             label="a map whose largest region is not the object (a smaller, brighter one is): V1 misses it "
                   "where V2 would not"),
        Case((np.stack([half, lit[1]]), [[0.0, 0.0, 1.0, 1.0], gts[1]], [0.3, 0.5, 0.7]),
             label="a box with IoU exactly 0.5 at t = 0.3 and 0.5 (the left half against the whole image)"),
        Case((np.stack([background, lit[3]]), [_box((4, 16, 6, 20)), gts[3]], [0.0, 0.5]),
             label="t = 0.0 keeps the pixels above the minimum only, not the whole map"),
        Case((np.stack(lifted[:2]), gts[:2], [0.25]), label="one threshold only"),
        Case((mixed, mixed_gt, tenths), label="a list of three random maps of different sizes (20x30, 24x16, "
                                              "30x30), thresholds 0.0 ... 0.9"),
        *random_sets,
    ]


q2 = Exercise(
    name="09 q2: one MaxBoxAcc sweep (V1, IoU 0.5)",
    func_name="box_acc_sweep",
    cases=_sweep_cases,
    reference=max_box_acc_sweep,
    forbidden=[max_box_acc_sweep, metrics.max_box_acc, metrics.region_ious, metrics.box_accuracy],
    hint=["MaxBoxAcc puts every map on one scale first, Choe et al.'s: min-max normalization, (cam - min) / "
          "(max - min), so the lowest value becomes 0 and the highest 1 (a flat map has no range: it gives no box "
          "at all). Then each threshold t is q1 again on the normalized maps: the largest region above t, a hit "
          "at IoU >= 0.5. MaxBoxAcc is the highest of those accuracies; best_threshold is the first t (in the "
          "order given) that reaches it.",
          "cam.min() and cam.max() per map, and np.zeros_like for a flat one; on a normalized map (max 1) "
          "threshold x max is t itself, so your gt_known_loc (or cam_to_bbox and iou) works at each t; np.argmax "
          "gives the first of equal maxima; return {'accuracy': ..., 'max_box_acc': ..., 'best_threshold': ...}."],
    mistakes=SWEEP_MISTAKES,
    notebook=NOTEBOOK,
    compare=sweep_close,
    description=("Write `box_acc_sweep(cams, gt_boxes, thresholds)`: min-max normalize each map; the accuracy at "
                 "each threshold (largest region above t, IoU >= 0.5), its maximum (MaxBoxAcc) and the first "
                 "threshold reaching it, as a dict."),
)

EXERCISES = [q1, q2]
