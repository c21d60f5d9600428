"""Exercises of notebook 01_data: converting a TFDS box to the formats other libraries use.

- ``q1``: ``to_pixel_corners(bbox, height, width)`` - a TFDS box ``[ymin, xmin, ymax, xmax]`` (normalized) ->
  ``[x_min, y_min, x_max, y_max]`` in pixels (x first, as Pascal VOC and OpenCV's drawing functions want).
- ``q2``: ``to_corner_xywh(bbox, height, width)`` - the same box -> ``[x_left, y_top, width, height]`` in pixels
  (COCO's format, and what OpenCV's ``boundingRect`` returns).

Pixels are floats (no rounding): the cases put box edges between pixels, so a rounded answer is told apart.
"""
import numpy as np

from camlab.exercises.core import Case, Exercise, close
from camlab.exercises.fixtures import random_box, rng as _rng

NOTEBOOK = "01_data"


# ----------------------------------------------------------------------------------------------------------
# References

def _to_pixel_corners(bbox, height, width):
    """``[ymin, xmin, ymax, xmax] -> [xmin * W, ymin * H, xmax * W, ymax * H]``."""
    ymin, xmin, ymax, xmax = np.asarray(bbox, np.float64)
    return np.array([xmin * width, ymin * height, xmax * width, ymax * height])


def _to_corner_xywh(bbox, height, width):
    """``[ymin, xmin, ymax, xmax] -> [xmin * W, ymin * H, (xmax - xmin) * W, (ymax - ymin) * H]``."""
    ymin, xmin, ymax, xmax = np.asarray(bbox, np.float64)
    return np.array([xmin * width, ymin * height, (xmax - xmin) * width, (ymax - ymin) * height])


# ----------------------------------------------------------------------------------------------------------
# Cases: non-square images (height != width), so swapping x and y or H and W shows; edges between pixels.

def _cases(seed=0):
    generator = _rng(seed)
    tall, wide = random_box(generator), random_box(generator)
    return [
        Case(([0.1, 0.2, 0.5, 0.9], 100, 200), label="a wide box on a 100 x 200 image (height 100, width 200)"),
        Case(([0.25, 0.125, 0.75, 0.375], 160, 96), label="a tall image, 160 high and 96 wide"),
        Case((np.array(tall, np.float32), 149, 154), label="a float32 array, edges between pixels, 149 x 154"),
        Case((wide, 96, 128), label="a random box as a list, 96 x 128"),
        Case(([0.0, 0.0, 1.0, 1.0], 120, 80), label="the whole image, 120 x 80"),
        Case(([0.3, 0.6, 0.3, 0.6], 50, 70), label="an empty box (a point) at y=0.3, x=0.6 on 50 x 70"),
    ]


q1 = Exercise(
    name="TFDS box to pixel corners",
    func_name="to_pixel_corners",
    cases=_cases,
    reference=_to_pixel_corners,
    hint=("Unpack in TFDS's order first: ymin, xmin, ymax, xmax = bbox. A y is a fraction of the height and an x "
          "a fraction of the width. Then put x first: [x_min, y_min, x_max, y_max]. Don't round."),
    notebook=NOTEBOOK,
    compare=close(atol=1e-3),
    description=("Write `to_pixel_corners(bbox, height, width)`: a normalized TFDS box [ymin, xmin, ymax, xmax] on "
                 "an image of `height` x `width` pixels -> [x_min, y_min, x_max, y_max] in pixels (floats)."),
)

q2 = Exercise(
    name="TFDS box to corner xywh",
    func_name="to_corner_xywh",
    cases=_cases,
    reference=_to_corner_xywh,
    hint=("The corner is (x_min, y_min) in pixels, as in to_pixel_corners; the box's width is x_max - x_min and its "
          "height y_max - y_min (not x_max itself, and not measured from the centre)."),
    notebook=NOTEBOOK,
    compare=close(atol=1e-3),
    description=("Write `to_corner_xywh(bbox, height, width)`: a normalized TFDS box -> [x_left, y_top, box_width, "
                 "box_height] in pixels (COCO's format)."),
)

EXERCISES = [q1, q2]
