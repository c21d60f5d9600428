"""Exercises of notebook 06_detection: from a class activation map to a box.

- ``q1``: ``cam_to_bbox(cam, threshold=0.2)`` - the axis-aligned box of the largest region above
  ``threshold x max``, normalized ``[ymin, xmin, ymax, xmax]``, ``None`` when no pixel passes.
- ``q2``: ``rect_to_minmax(points, image_shape)`` - corner points ``(x, y)`` in pixels (what ``cv2.boxPoints``
  gives) to the normalized ``[ymin, xmin, ymax, xmax]`` box that encloses them, clipped to the image.

The references are camlab's own functions (``camlab.boxes``), the ones the rest of the course uses.
"""
import cv2
import numpy as np

from camlab import boxes
from camlab.exercises.core import Case, Exercise, box_close, gives
from camlab.exercises.fixtures import Variants, blobs, gaussian, random_regions, rng

NOTEBOOK = "06_detection"


# ----------------------------------------------------------------------------------------------------------
# Hand-made maps: each one makes a typical mistake visible.

def _unnormalized_with_halo():
    """Peak 5.0 in a core, a wide halo at 2.0: relative threshold 0.5 keeps the core, an absolute one the halo."""
    cam = blobs((32, 48), [(4, 28, 4, 44)], [2.0])
    cam[12:20, 16:30] = 5.0
    return cam


def _cam_cases(seed=0):
    generator = rng(seed + 20)
    moved = Variants(rng(seed + 25), public=seed == 0).map  # hidden seeds: the same maps, padded and scaled
    return [
        Case((moved(blobs((32, 48), [(8, 20, 10, 30)])),), label="one rectangular region in a 32x48 map"),
        Case((moved(blobs((32, 48), [(2, 18, 3, 30), (25, 29, 40, 45)], [1.0, 0.8])),),
             label="a large region at the top and a small one further down (contours[0] is the small one)"),
        Case((moved(blobs((32, 48), [(2, 6, 3, 7), (12, 28, 20, 44)], [0.9, 1.0])),),
             label="a small region at the top and a large one further down"),
        Case((moved(np.zeros((24, 24), np.float32)),), label="an all-zero map (no region at all)"),
        Case((moved(_unnormalized_with_halo()),), {"threshold": 0.5},
             label="a map whose maximum is 5.0, threshold=0.5 (relative to the maximum)"),
        Case((moved(blobs((20, 30), [(10, 20, 0, 12)]), pad=0),), label="a region touching the bottom and left borders"),
        Case((moved(gaussian((40, 60), (15, 38), 6.0) + gaussian((40, 60), (32, 8), 2.5, 0.7)),),
             label="two smooth bumps of different sizes in a 40x60 map"),
        Case((moved(gaussian((40, 60), (20, 30), 8.0)),), {"threshold": 0.6}, label="one smooth bump, threshold=0.6"),
        Case((random_regions(generator),), label="a large region and a small brighter one, at random places"),
        Case((random_regions(generator, (40, 56)),), label="the same kind of map, 40x56"),
    ]


# ----------------------------------------------------------------------------------------------------------
# Typical wrong boxes, as functions of the case's inputs (the verdict names the one an answer matches).

def _regions(cam, limit):
    mask = (np.asarray(cam, np.float32) > limit).astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return contours


def _box_of(contour, shape, minus_one=False):
    x, y, w, h = cv2.boundingRect(contour)
    d = 1 if minus_one else 0
    return [y / shape[0], x / shape[1], (y + h - d) / shape[0], (x + w - d) / shape[1]]


def _variant(limit_of, pick=lambda contours: max(contours, key=cv2.contourArea), minus_one=False):
    def cam_to_bbox(cam, threshold=0.2):
        cam = np.asarray(cam, np.float32)
        contours = _regions(cam, limit_of(cam, threshold)) if cam.max() > 0 else ()
        return _box_of(pick(contours), cam.shape, minus_one) if len(contours) else None

    return cam_to_bbox


_relative = lambda cam, threshold: threshold * cam.max()
_CAM_MISTAKES = [
    (gives(_variant(lambda cam, threshold: threshold), box_close(0.01)),
     "Your box matches an absolute threshold (cam > threshold): here the threshold is a fraction of the map's "
     "maximum (cam > threshold * cam.max())."),
    (gives(_variant(_relative, pick=lambda contours: contours[0]), box_close(0.01)),
     "Your box is the first region OpenCV lists (contours[0]), not the largest one."),
    (gives(_variant(_relative, minus_one=True), box_close(0.002)),
     "Your box ends one pixel short: a region covering columns x .. x + w - 1 spans [x / W, (x + w) / W] (boxes "
     "cover whole pixels)."),
    (lambda expected, got, case: got is not None and np.max(np.abs(got)) > 1.5,
     "Your box is in pixels: divide y by the map's height and x by its width."),
    (lambda expected, got, case: expected is None and got is not None,
     "A map with no region above the threshold has no box: return None."),
]


q1 = Exercise(
    name="06 q1: box of the largest region",
    func_name="cam_to_bbox",
    cases=_cam_cases,
    reference=boxes.cam_to_bbox,
    hint=["Threshold the map relative to its own peak, find its connected regions, keep the LARGEST one (the "
          "order OpenCV lists them in says nothing about size), and turn its pixel bounding box into fractions "
          "of the map's height and width. No region at all means no box.",
          "A uint8 mask for cv2.findContours (cv2.RETR_EXTERNAL), cv2.contourArea to compare them, "
          "cv2.boundingRect gives (x, y, w, h) in pixels."],
    mistakes=_CAM_MISTAKES,
    notebook=NOTEBOOK,
    # Less than a pixel of slack (the largest map is 60 pixels wide): the convention is stated in the task.
    compare=box_close(atol=0.01),
    description=("Write `cam_to_bbox(cam, threshold=0.2)`: the normalized [ymin, xmin, ymax, xmax] box of the "
                 "largest connected region of pixels > threshold * max, or None when there is none."),
)


# ----------------------------------------------------------------------------------------------------------
# q2: corner points (x, y) in pixels -> normalized [ymin, xmin, ymax, xmax]

def _rect_cases(seed=0):
    generator = rng(seed + 21)
    rotated = cv2.boxPoints(((100.0, 50.0), (80.0, 40.0), 30.0))
    center = tuple(float(v) for v in generator.uniform(40, 100, 2))
    turned = cv2.boxPoints((center, tuple(float(v) for v in generator.uniform(20, 60, 2)),
                            float(generator.uniform(0, 90))))  # float32 (4, 2), as get_bbox gets them
    # Hidden seeds: the hand-made corners and images k times larger (the same normalized boxes), and an image
    # of another size for the corners on its edges.
    k = 1 if seed == 0 else int(rng(seed + 26).integers(2, 4))
    height, width = (48, 64) if seed == 0 else (int(v) for v in rng(seed + 27).integers(30, 90, 2))
    big = lambda points: (np.asarray(points) * k).astype(np.asarray(points).dtype)
    size = lambda shape: tuple(v * k for v in shape[:2]) + tuple(shape[2:])
    return [
        Case((big(np.array([[20, 10], [120, 10], [120, 60], [20, 60]], np.int32)), size((100, 200))),
             label="an upright rectangle in a 100x200 (HxW) image"),
        Case((big(rotated), size((120, 160))),
             label="a rectangle rotated by 30 degrees (cv2.boxPoints) in a 120x160 image"),
        Case((big(rotated.astype(np.int32)), size((120, 160, 3))),
             label="the same corners as ints, image_shape (H, W, 3)"),
        Case((big(np.array([[-15, 30], [70, -5], [90, 140], [5, 150]], np.int32)), size((130, 80))),
             label="corners outside a 130x80 image (clip to [0, 1])"),
        Case((np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], np.int64),
              (height, width)), label=f"corners on the image's edges, {height}x{width}"),
        Case((turned, (140, 150)), label="a rectangle of random size, place and angle in a 140x150 image"),
    ]


def _rect_variant(order=(1, 0), clip=True, divide_by=lambda height, width: (height, width)):
    def rect_to_minmax(points, image_shape):
        pts = np.asarray(points, np.float64)
        height, width = divide_by(*image_shape[:2])
        ys, xs = pts[:, order[0]], pts[:, order[1]]
        box = np.array([ys.min() / height, xs.min() / width, ys.max() / height, xs.max() / width])
        return np.clip(box, 0, 1) if clip else box

    return rect_to_minmax


_RECT_MISTAKES = [
    (gives(_rect_variant(order=(0, 1)), box_close(1e-3)),
     "Your box looks like the points were read as (row, column): OpenCV points are (x, y) = (column, row)."),
    (gives(_rect_variant(divide_by=lambda height, width: (width, height)), box_close(1e-3)),
     "y looks divided by the width and x by the height: image_shape[:2] is (height, width)."),
    (gives(_rect_variant(clip=False), box_close(1e-3)),
     "Corners outside the image give coordinates outside [0, 1]: clip the box."),
    (gives(_rect_variant(divide_by=lambda height, width: (height - 1, width - 1)), box_close(1e-4)),
     "Your box looks divided by (height - 1, width - 1): divide by the height and the width."),
]


q2 = Exercise(
    name="06 q2: corner points to a normalized box",
    func_name="rect_to_minmax",
    cases=_rect_cases,
    reference=boxes.rect_to_minmax,
    hint=["The enclosing upright box of some points runs from their smallest to their largest coordinate on "
          "each axis. OpenCV's points are (x, y) = (column, row), the box wants y first, and corners may fall "
          "outside the image.",
          "points[:, 0] is x, points[:, 1] is y; .min() / .max(); image_shape[:2] is (height, width); np.clip."],
    mistakes=_RECT_MISTAKES,
    notebook=NOTEBOOK,
    compare=box_close(atol=1e-3),
    description=("Write `rect_to_minmax(points, image_shape)`: (4, 2) corner points (x, y) in pixels -> the "
                 "normalized [ymin, xmin, ymax, xmax] box enclosing them, clipped to [0, 1]."),
)

EXERCISES = [q1, q2]
