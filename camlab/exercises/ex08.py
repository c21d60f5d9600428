"""Exercises of notebook 08_project: the lesson's project, written by the learner from its description.

- ``q1``: ``generate_cam(model, item)`` - CAM for the item's label, at the item's original size.
- ``q2``: ``generate_grad_cam(model, activation_layer, item)`` - Grad-CAM on a named layer, same conventions.
- ``q3``: ``get_bbox(cam, score_thresh=0.05)`` - the rotated rectangle (4 corner points) around the largest
  region, ``None`` for an empty map, input untouched.
- ``q4``: ``get_iou(gt_bbox, pred_bbox)`` - IoU of two normalized boxes.

The references are camlab's own functions (``camlab.cam.generate_cam``, ``camlab.cam.generate_grad_cam``,
``camlab.boxes.get_bbox``, ``camlab.boxes.iou``). The model cases use a tiny Keras model with the course's layer
names, built on first check (under a second).
"""
import numpy as np

from camlab import boxes
from camlab.exercises.core import Case, Exercise, close, short_repr
from camlab.exercises.fixtures import blobs, gaussian, iou_cases, random_regions, rng, tiny_cam_model

NOTEBOOK = "08_project"

# ----------------------------------------------------------------------------------------------------------
# A tiny CAM model with the course's names: block1_out -> block2_out (the feature map) -> avg_pool -> predictions


def _item(seed, height, width, label):
    """A TFDS-like item: a random uint8 image with a brighter patch, its label and a box."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 120, (height, width, 3)).astype(np.uint8)
    image[height // 4: 3 * height // 4, width // 3: width - 2] += 100
    return {"image": image, "label": np.int64(label), "bbox": np.array([0.25, 0.33, 0.75, 0.95], np.float32)}


def _model_cases(layer=None, seed=0):
    model = tiny_cam_model()
    items = [(_item(seed + 1, 20, 28, 2), "a 20x28 image of class 2"),
             (_item(seed + 2, 36, 24, 3), "a 36x24 image of class 3"),
             (_item(3, 16, 16, 4), "a 16x16 image of class 4 with no positive evidence (the map stays all zero)")]
    if layer is None:
        return [Case((model, item), label=label) for item, label in items]
    return [Case((model, name, item), label=f"{label}, layer {name!r}")
            for item, label in items for name in ("block2_out", "block1_out")]


def _layer_cases(seed=0):
    return _model_cases(layer=True, seed=seed)


# ----------------------------------------------------------------------------------------------------------
# q1: CAM


_MAP_TOLERANCE = close(atol=0.02, rtol=0.0)  # resizing libraries differ by less than 1e-3 on these sizes

q1 = Exercise(
    name="08 q1: CAM",
    func_name="generate_cam",
    cases=_model_cases,
    reference=lambda model, item: _cam().generate_cam(model, item),
    forbidden=["camlab.cam.generate_cam"],
    hint=("Preprocess with camlab.data.normalize_and_resize_img(item, model.input_shape[1:3]). The feature map A "
          "is the input of the layer 'avg_pool' (keras.Model(model.input, model.get_layer('avg_pool').input)); "
          "the class weights are column `label` of model.get_layer('predictions').kernel. cam = ReLU(A @ w), "
          "divided by its max when the max is > 0, then cv2.resize(cam, (width, height)) - note OpenCV's (width, "
          "height) order."),
    notebook=NOTEBOOK,
    compare=_MAP_TOLERANCE,
    description=("Write `generate_cam(model, item)`: the CAM of the item's label, ReLU, divided by its max, "
                 "resized (bilinear) to the item's original (height, width); float in [0, 1]."),
)


def _cam():
    from camlab import cam  # TensorFlow loads with the first model case, not when the module is imported

    return cam


# ----------------------------------------------------------------------------------------------------------
# q2: Grad-CAM


q2 = Exercise(
    name="08 q2: Grad-CAM",
    func_name="generate_grad_cam",
    cases=_layer_cases,
    reference=lambda model, layer, item: _cam().generate_grad_cam(model, layer, item),
    forbidden=["camlab.cam.generate_grad_cam"],
    hint=("A probe model returns both the activation layer's output A and the 'avg_pool' output. Inside a "
          "tf.GradientTape, the pre-softmax score is pooled @ kernel + bias of the 'predictions' layer, column "
          "`label` (not the softmax probability: the paper differentiates the score before the softmax). "
          "tape.gradient(score, A) gives dy/dA; average it over the two spatial axes for one weight per channel; "
          "then ReLU(sum_k alpha_k A_k), divide by the max when it is > 0, resize like in q1."),
    notebook=NOTEBOOK,
    compare=_MAP_TOLERANCE,
    description=("Write `generate_grad_cam(model, activation_layer, item)`: Grad-CAM of the item's label on the "
                 "named layer, from the pre-softmax score; same conventions as generate_cam."),
)


# ----------------------------------------------------------------------------------------------------------
# q3: the rotated box of the largest region

def _corners_close(expected, got):
    """(4, 2) corner points agree, in any order, to within one pixel per coordinate; None must meet None."""
    if expected is None or got is None:
        if expected is None and got is None:
            return None
        return f"expected {short_repr(expected)}, got {short_repr(got)}"
    want = np.asarray(expected, np.float64)
    try:
        have = np.asarray(got, np.float64)
    except (TypeError, ValueError):
        return f"expected (4, 2) corner points, got {short_repr(got)}"
    if have.shape != want.shape:
        return f"expected (4, 2) corner points (x, y), got shape {have.shape}"
    order = lambda points: points[np.lexsort((points[:, 1], points[:, 0]))]
    if np.allclose(order(have), order(want), atol=1.0, rtol=0.0):
        return None
    return (f"expected corners {np.array2string(order(want), separator=', ')} (any order), got "
            f"{np.array2string(order(have), separator=', ')}").replace("\n", "")


def _bbox_cases(seed=0):
    tilted = np.zeros((48, 64), np.float32)
    yy, xx = np.mgrid[:48, :64]
    tilted[np.abs((yy - 24) - 0.5 * (xx - 32)) < 5] = 0.9  # a tilted band
    tilted[(np.abs(xx - 32) > 22)] = 0.0
    tilted[2:6, 55:60] = 1.0  # a brighter but small region
    return [
        Case((blobs((32, 48), [(8, 20, 10, 30)]),), label="one upright region"),
        Case((tilted,), label="a tilted band and a small bright square (take the largest region)"),
        Case((blobs((32, 48), [(2, 18, 3, 30), (25, 29, 40, 45)], [1.0, 0.8]),),
             label="a large region at the top, a small one further down (contours[0] is the small one)"),
        Case((np.zeros((24, 24), np.float32),), label="an all-zero map (the lesson crashed here)"),
        Case((gaussian((40, 60), (20, 30), 8.0),), {"score_thresh": 0.5}, label="a smooth bump, score_thresh=0.5"),
        Case((random_regions(rng(seed + 24)),), label="a large region and a small brighter one, at random places"),
    ]


q3 = Exercise(
    name="08 q3: rotated box of the largest region",
    func_name="get_bbox",
    cases=_bbox_cases,
    reference=boxes.get_bbox,
    hint=("Build a uint8 mask of the pixels above score_thresh (a new array, so cam is not changed), find the "
          "regions with cv2.findContours, keep the one with the largest cv2.contourArea, and turn "
          "cv2.minAreaRect(largest) into four corners with cv2.boxPoints(...).astype(np.int32). No contour: None."),
    notebook=NOTEBOOK,
    compare=_corners_close,
    description=("Write `get_bbox(cam, score_thresh=0.05)`: the (4, 2) int corner points (x, y) of the minimum-area "
                 "rotated rectangle around the largest region above score_thresh, or None; cam unchanged."),
)


# ----------------------------------------------------------------------------------------------------------
# q4: IoU (the project's own version, argument names as in the lesson)

# The same function as notebook 07's, with the project's argument names.

q4 = Exercise(
    name="08 q4: IoU",
    func_name="get_iou",
    cases=iou_cases,
    reference=boxes.iou,
    hint=("Intersection: [max ymin, max xmin, min ymax, min xmax]; clamp its height and width at 0 separately "
          "before multiplying; union = both areas - intersection; return 0 when the union is 0."),
    notebook=NOTEBOOK,
    compare=close(atol=1e-6, rtol=1e-5),
    description="Write `get_iou(gt_bbox, pred_bbox)` for normalized [ymin, xmin, ymax, xmax] boxes; a float in [0, 1].",
)

EXERCISES = [q1, q2, q3, q4]
