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
from camlab.exercises.core import Case, Exercise, box_close
from camlab.exercises.fixtures import blobs, gaussian, random_regions, rng

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
    return [
        Case((blobs((32, 48), [(8, 20, 10, 30)]),), label="one rectangular region in a 32x48 map"),
        Case((blobs((32, 48), [(2, 18, 3, 30), (25, 29, 40, 45)], [1.0, 0.8]),),
             label="a large region at the top and a small one further down (contours[0] is the small one)"),
        Case((blobs((32, 48), [(2, 6, 3, 7), (12, 28, 20, 44)], [0.9, 1.0]),),
             label="a small region at the top and a large one further down"),
        Case((np.zeros((24, 24), np.float32),), label="an all-zero map (no region at all)"),
        Case((_unnormalized_with_halo(),), {"threshold": 0.5},
             label="a map whose maximum is 5.0, threshold=0.5 (relative to the maximum)"),
        Case((blobs((20, 30), [(10, 20, 0, 12)]),), label="a region touching the bottom and left borders"),
        Case((gaussian((40, 60), (15, 38), 6.0) + gaussian((40, 60), (32, 8), 2.5, 0.7),),
             label="two smooth bumps of different sizes in a 40x60 map"),
        Case((gaussian((40, 60), (20, 30), 8.0),), {"threshold": 0.6}, label="one smooth bump, threshold=0.6"),
        Case((random_regions(generator),), label="a large region and a small brighter one, at random places"),
        Case((random_regions(generator, (40, 56)),), label="the same kind of map, 40x56"),
    ]


q1 = Exercise(
    name="06 q1: box of the largest region",
    func_name="cam_to_bbox",
    cases=_cam_cases,
    reference=boxes.cam_to_bbox,
    hint=("Keep the pixels with cam > threshold * cam.max() as a uint8 mask; cv2.findContours(mask, "
          "cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE) lists the regions; pick the one with the largest "
          "cv2.contourArea (not contours[0]); cv2.boundingRect gives x, y, w, h in pixels: divide y by the "
          "height and x by the width. Return None when there is no contour."),
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
    return [
        Case((np.array([[20, 10], [120, 10], [120, 60], [20, 60]], np.int32), (100, 200)),
             label="an upright rectangle in a 100x200 (HxW) image"),
        Case((rotated, (120, 160)), label="a rectangle rotated by 30 degrees (cv2.boxPoints) in a 120x160 image"),
        Case((rotated.astype(np.int32), (120, 160, 3)), label="the same corners as ints, image_shape (H, W, 3)"),
        Case((np.array([[-15, 30], [70, -5], [90, 140], [5, 150]], np.int32), (130, 80)),
             label="corners outside a 130x80 image (clip to [0, 1])"),
        Case((np.array([[0, 0], [63, 0], [63, 47], [0, 47]], np.int64), (48, 64)),
             label="corners on the image's edges, 48x64"),
        Case((turned, (140, 150)), label="a rectangle of random size, place and angle in a 140x150 image"),
    ]


q2 = Exercise(
    name="06 q2: corner points to a normalized box",
    func_name="rect_to_minmax",
    cases=_rect_cases,
    reference=boxes.rect_to_minmax,
    hint=("OpenCV points are (x, y) = (column, row). ymin is the smallest y divided by the image height, xmin "
          "the smallest x divided by the width, and so on; image_shape[:2] is (height, width). "
          "np.clip(box, 0, 1) keeps the box inside the image."),
    notebook=NOTEBOOK,
    compare=box_close(atol=1e-3),
    description=("Write `rect_to_minmax(points, image_shape)`: (4, 2) corner points (x, y) in pixels -> the "
                 "normalized [ymin, xmin, ymax, xmax] box enclosing them, clipped to [0, 1]."),
)

EXERCISES = [q1, q2]
