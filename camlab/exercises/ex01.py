"""Exercises of notebook 01_data: converting a TFDS box to the formats other libraries use, and back.

- ``q1``: ``to_pixel_corners(bbox, height, width)`` - a TFDS box ``[ymin, xmin, ymax, xmax]`` (normalized) ->
  ``[x_min, y_min, x_max, y_max]`` in pixels (x first, as Pascal VOC and OpenCV's drawing functions want).
- ``q2``: ``to_corner_xywh(bbox, height, width)`` - the same box -> ``[x_left, y_top, width, height]`` in pixels
  (COCO's format, and what OpenCV's ``boundingRect`` returns).
- ``q3``: ``to_normalized(pixel_box, height, width)`` - q1 backwards: pixel corners ``[x_min, y_min, x_max,
  y_max]`` -> the normalized TFDS box, clamped to [0, 1] (TFDS's ``BBoxFeature`` refuses anything outside).

Pixels are floats (no rounding) and a pixel coordinate is a position on the image, ``x = xmin * width``: 0 is
the left edge and ``width`` the right edge (no ``- 1``). The cases put box edges between pixels, so a rounded
answer is told apart. q3's reference is camlab's ``boxes.rect_to_minmax`` on the box's two corner points.
"""
import numpy as np

from camlab import boxes
from camlab.exercises.core import Case, Exercise, close, gives
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


def _to_normalized(pixel_box, height, width):
    """``[x_min, y_min, x_max, y_max]`` (pixels) -> ``clip([y_min / H, x_min / W, y_max / H, x_max / W], 0, 1)``:
    ``camlab.boxes.rect_to_minmax`` on the two corner points ``(x_min, y_min)`` and ``(x_max, y_max)``."""
    return boxes.rect_to_minmax(np.reshape(np.asarray(pixel_box, np.float64), (2, 2)), (height, width))


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


def _pixel_cases(seed=0):
    """Pixel corners [x_min, y_min, x_max, y_max]: q1's answers on random boxes, integer corners, and boxes that
    reach over the image's edge (a detector's or a hand-drawn box can), which must be clamped."""
    generator = _rng(seed + 1)
    height, width = (int(v) for v in generator.integers(90, 200, 2))
    if height == width:
        width += 7
    inside = _to_pixel_corners(random_box(generator), height, width)
    x0, y0 = generator.uniform(-12.0, -2.0, 2)                   # top-left corner above and left of the image
    x1, y1 = generator.uniform(0.4, 0.8) * width, generator.uniform(0.4, 0.8) * height
    return [
        Case(([40.0, 10.0, 180.0, 50.0], 100, 200), label="q1's first answer back, on a 100 x 200 image"),
        Case(([12.0, 40.0, 36.0, 120.0], 160, 96), label="integer corners as a list, a tall image 160 high, 96 wide"),
        Case((inside.astype(np.float32), height, width),
             label=f"a float32 array, edges between pixels, {height} x {width}"),
        Case((np.array([0, 0, 80, 120], np.int64), 120, 80), label="the whole 120 x 80 image, an int64 array"),
        Case(([-6.5, 20.25, 90.0, 57.5], 50, 70),
             label="a box reaching past the left edge (x_min = -6.5) and the bottom (y_max = 57.5) of 50 x 70"),
        Case(([float(x0), float(y0), float(x1), float(y1)], height, width),
             label=f"a random box over the top-left corner of {height} x {width}"),
        Case(([42.0, 15.0, 42.0, 15.0], 50, 70), label="an empty box (a point) at x=42, y=15 on 50 x 70"),
    ]


# ----------------------------------------------------------------------------------------------------------
# Typical mistakes of q3, as the wrong functions a learner writes (their answers are told apart on the cases).

def _normalized_variant(x_first=False, read_y_first=False, divide="hw", clamp=True, plus_one=False, rounded=False):
    """q3 written wrong in one way: ``x_first`` keeps the answer x first; ``read_y_first`` reads the pixel box in
    TFDS's order; ``divide`` "wh" divides y by the width, "minus_one" by (H - 1, W - 1); ``plus_one`` takes the
    max corner for an inclusive last pixel; ``rounded`` rounds the pixels first; ``clamp=False`` never clamps."""
    def to_normalized(pixel_box, height, width):
        x_min, y_min, x_max, y_max = (float(v) for v in pixel_box)
        if read_y_first:
            y_min, x_min, y_max, x_max = x_min, y_min, x_max, y_max
        if rounded:
            x_min, y_min, x_max, y_max = (round(v) for v in (x_min, y_min, x_max, y_max))
        if plus_one:
            x_max, y_max = x_max + 1, y_max + 1
        h, w = {"hw": (height, width), "wh": (width, height), "minus_one": (height - 1, width - 1)}[divide]
        box = np.array([y_min / h, x_min / w, y_max / h, x_max / w])
        box = np.clip(box, 0.0, 1.0) if clamp else box
        return box[[1, 0, 3, 2]] if x_first else box
    return to_normalized


NORMALIZED_MISTAKES = [
    (gives(_normalized_variant(x_first=True)),
     "Your box is still x first: a TFDS box is [ymin, xmin, ymax, xmax], y first."),
    (gives(_normalized_variant(read_y_first=True)),
     "The pixel box looks read in TFDS's order (y first): q1's pixel corners are [x_min, y_min, x_max, y_max], x "
     "first."),
    (gives(_normalized_variant(divide="wh")),
     "y looks divided by the width and x by the height: y is a fraction of the height, x of the width."),
    (gives(_normalized_variant(divide="minus_one")),
     "Your box looks divided by (height - 1, width - 1): q1 multiplied by the height and the width themselves "
     "(x = width is the image's right edge), so divide by them."),
    (gives(_normalized_variant(plus_one=True)),
     "x_max and y_max look one pixel too far (x_max + 1): the corners are edges, not the index of the last pixel, "
     "so use them as they are."),
    (gives(_normalized_variant(clamp=False)),
     "Values outside [0, 1]: a box reaching over the image's edge must be clamped to [0, 1] (TFDS refuses "
     "anything else)."),
    (gives(_normalized_variant(rounded=True)),
     "Your box looks rounded to whole pixels first: divide the corners as they are, fractions included."),
]


q1 = Exercise(
    name="01 q1: TFDS box to pixel corners",
    func_name="to_pixel_corners",
    cases=_cases,
    reference=_to_pixel_corners,
    hint=["A normalized coordinate is a fraction of the image's size along its own axis: a y of the height, an x "
          "of the width. TFDS lists y first and the answer x first, so each number moves as well as being scaled. "
          "Keep the fractions of a pixel (no rounding).",
          "Tuple unpacking names the four numbers in TFDS's order, and a list of four products builds the answer "
          "in the new order. With NumPy, an index list such as [1, 0, 3, 2] reorders an array, and multiplying "
          "by an array of four sizes scales each number by its own."],
    notebook=NOTEBOOK,
    compare=close(atol=1e-3),
    description=("Write `to_pixel_corners(bbox, height, width)`: a normalized TFDS box [ymin, xmin, ymax, xmax] on "
                 "an image of `height` x `width` pixels -> [x_min, y_min, x_max, y_max] in pixels (floats)."),
)

q2 = Exercise(
    name="01 q2: TFDS box to corner xywh",
    func_name="to_corner_xywh",
    cases=_cases,
    reference=_to_corner_xywh,
    hint=["The corner is the top-left one, the same point as in to_pixel_corners. The size is a distance between "
          "two edges, in pixels (the width along x, the height along y): not an edge itself, and not measured "
          "from the centre.",
          "Your to_pixel_corners already gives both corners: call it, unpack its four numbers and subtract. Or "
          "unpack the TFDS box and scale the differences xmax - xmin and ymax - ymin."],
    notebook=NOTEBOOK,
    compare=close(atol=1e-3),
    description=("Write `to_corner_xywh(bbox, height, width)`: a normalized TFDS box -> [x_left, y_top, box_width, "
                 "box_height] in pixels (COCO's format)."),
)

q3 = Exercise(
    name="01 q3: pixel corners back to a TFDS box",
    func_name="to_normalized",
    cases=_pixel_cases,
    reference=_to_normalized,
    hint=["Undo q1: each pixel coordinate becomes a fraction of the image's size along its own axis, and the four "
          "numbers go back to TFDS's y-first order. Pixel corners are positions (0 is the left edge, width the "
          "right edge), so nothing is added or taken away. A box may reach over the image's edge: cut it there, "
          "so that every value lies in [0, 1].",
          "Tuple unpacking names x_min, y_min, x_max, y_max; / divides; np.clip(values, 0.0, 1.0) (or Python's "
          "min and max) clamps. No rounding."],
    mistakes=NORMALIZED_MISTAKES,
    notebook=NOTEBOOK,
    compare=close(atol=1e-4),
    forbidden=[_to_normalized, boxes.rect_to_minmax],
    description=("Write `to_normalized(pixel_box, height, width)`: pixel corners [x_min, y_min, x_max, y_max] (as "
                 "to_pixel_corners returns them: floats, x = xmin * width) on an image of `height` x `width` -> "
                 "the normalized TFDS box [ymin, xmin, ymax, xmax], clamped to [0, 1]."),
)

EXERCISES = [q1, q2, q3]
