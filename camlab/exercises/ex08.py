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
from camlab.exercises.core import Case, Exercise, close, gives, short_repr
from camlab.exercises.fixtures import MAP_MISTAKES, Variants, blobs, gaussian, grad_cam_variant, iou_cases, iou_mistakes, \
    random_regions, rng, tiny_cam_model

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
             (_item(3, 16, 16, 4) if seed == 0 else _all_zero_item(model, rng(seed + 3)),
              "a 16x16 image of class 4 with no positive evidence (the map stays all zero)"),
             (_item(seed + 4, 24, 20, 0), "a 24x20 image of class 0 (its map is positive everywhere: min above 0)")]
    if layer is None:
        return [Case((model, item), label=label) for item, label in items]
    return [Case((model, name, item), label=f"{label}, layer {name!r}")
            for item, label in items for name in ("block2_out", "block1_out")]


def _all_zero_item(model, generator, tries=50):
    """A random 16x16 item of class 4 whose CAM and Grad-CAMs (both layers) are all zero: most are (the tiny
    model has no positive evidence for class 4), so a hidden seed gets one the public cases do not show."""
    cam = _cam()
    for _ in range(tries):
        item = _item(int(generator.integers(1000, 10**6)), 16, 16, 4)
        if max(float(cam.generate_cam(model, item).max()),
               *(float(cam.generate_grad_cam(model, layer, item).max()) for layer in ("block2_out", "block1_out"))) == 0:
            return item
    raise RuntimeError("no item with an all-zero map was found; change the seed of the case generator")


def _layer_cases(seed=0):
    return _model_cases(layer=True, seed=seed)


# ----------------------------------------------------------------------------------------------------------
# q1: CAM


_MAP_TOLERANCE = close(atol=0.02, rtol=0.0)  # resizing libraries differ by less than 1e-3 on these sizes


def _cam_of_the_prediction(model, item):
    """The CAM of the class the model predicts for the item, not of its label."""
    from camlab.data import normalize_and_resize_img

    image, _ = normalize_and_resize_img(item, model.input_shape[1:3])
    predicted = int(np.argmax(np.asarray(model(np.asarray(image)[None]))[0]))
    return _cam().generate_cam(model, {**item, "label": np.int64(predicted)})


def _size_mistakes(expected, got, case):
    """Maps of the wrong size: (width, height) for OpenCV's (height, width), or the feature map's size."""
    want, have = np.shape(expected), np.shape(got)
    return len(have) == 2 and have != want


_SIZE = [(lambda expected, got, case: len(np.shape(got)) == 2 and np.shape(got) == np.shape(expected)[::-1] !=
          np.shape(expected),
          "Height and width look swapped: cv2.resize takes its size as (width, height)."),
         (_size_mistakes, "Your map is not at the item's ORIGINAL size: resize it to item['image'].shape[:2] "
                          "(height, width).")]

q1 = Exercise(
    name="08 q1: CAM",
    func_name="generate_cam",
    cases=_model_cases,
    reference=lambda model, item: _cam().generate_cam(model, item),
    forbidden=["camlab.cam.generate_cam"],
    hint=["Three steps: the feature map that the pooling layer averages, weighted by the Dense kernel's column "
          "of the item's label (its label, not the predicted class); ReLU and scale to a peak of 1; resize to the "
          "item's ORIGINAL height and width.",
          "camlab.data.normalize_and_resize_img prepares the image; a keras.Model built from model.input to an "
          "inner layer's tensor reads the feature map; model.get_layer(name) finds the 'avg_pool' and "
          "'predictions' layers; mind the order of cv2.resize's size."],
    mistakes=[*_SIZE, (gives(_cam_of_the_prediction, _MAP_TOLERANCE),
                       "This looks like the CAM of the class the model PREDICTS: use the item's label."),
              *MAP_MISTAKES],
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


def _grad_cam(**mistake):
    """``generate_grad_cam(model, activation_layer, item)`` written with a tape, one typical mistake switched on
    (``fixtures.grad_cam_variant``'s options), resized to the item's original size."""
    def generate_grad_cam(model, activation_layer, item):
        import cv2

        from camlab.data import normalize_and_resize_img

        image, label = normalize_and_resize_img(item, model.input_shape[1:3])
        cam = grad_cam_variant(**mistake)(model, np.asarray(image)[None], [int(label)], activation_layer)[0]
        height, width = item["image"].shape[:2]
        return cv2.resize(cam, (width, height), interpolation=cv2.INTER_LINEAR)

    return generate_grad_cam


_GRAD_CAM_MISTAKES = [
    (gives(_grad_cam(score="softmax"), _MAP_TOLERANCE),
     "These maps come from the gradient of the softmax probability: Grad-CAM differentiates the label's score "
     "BEFORE the softmax (the logit, pooled @ kernel + bias of 'predictions')."),
    (gives(_grad_cam(axes=(0, 1)), _MAP_TOLERANCE),
     "Your channel weights change from column to column: that is the mean over the batch and the rows of the 4-D "
     "gradient (axis=(0, 1)). Average one image's gradients over its rows AND columns (grads[0], axis=(0, 1))."),
    (gives(_grad_cam(relu_gradients=True), _MAP_TOLERANCE),
     "The ReLU went on the gradients: average the raw gradients into the channel weights, and apply the ReLU to "
     "the weighted sum of the channels."),
    (gives(lambda model, activation_layer, item: _cam().generate_cam(model, item), _MAP_TOLERANCE),
     "These are CAM's maps of the last feature layer: Grad-CAM weighs the channels of the layer named "
     "`activation_layer` by their mean gradients, whichever layer that is."),
]

q2 = Exercise(
    name="08 q2: Grad-CAM",
    func_name="generate_grad_cam",
    cases=_layer_cases,
    reference=lambda model, layer, item: _cam().generate_grad_cam(model, layer, item),
    forbidden=["camlab.cam.generate_grad_cam"],
    hint=["Grad-CAM's weight of a channel is the mean, over the map's positions, of the gradient of the label's "
          "score BEFORE the softmax with respect to that channel. The rest is q1: weighted sum, ReLU, scale, "
          "resize to the original size.",
          "A probe returning the named layer's output and the 'avg_pool' output; tf.GradientTape; the logit is "
          "pooled @ kernel + bias of 'predictions'; tape.gradient; tf.reduce_mean over the spatial axes."],
    mistakes=[*_SIZE, *_GRAD_CAM_MISTAKES, *MAP_MISTAKES],
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
    moved = Variants(rng(seed + 25), public=seed == 0).map  # hidden seeds: the same maps, padded and scaled
    return [
        Case((moved(blobs((32, 48), [(8, 20, 10, 30)])),), label="one upright region"),
        Case((moved(tilted),), label="a tilted band and a small bright square (take the largest region)"),
        Case((moved(blobs((32, 48), [(2, 18, 3, 30), (25, 29, 40, 45)], [1.0, 0.8])),),
             label="a large region at the top, a small one further down (contours[0] is the small one)"),
        Case((moved(np.zeros((24, 24), np.float32)),), label="an all-zero map (the lesson crashed here)"),
        Case((moved(gaussian((40, 60), (20, 30), 8.0)),), {"score_thresh": 0.5},
             label="a smooth bump, score_thresh=0.5"),
        Case((random_regions(rng(seed + 24)),), label="a large region and a small brighter one, at random places"),
        # scaled by at most 1.5: the halo (0.03, 0.3) stays below score_thresh, a relative threshold keeps it
        Case((moved(_faint_with_halo()),), label="a faint map (maximum 0.3) with a halo at 0.03: score_thresh is absolute"),
        Case((moved(_faint_with_halo() * 10.0),), {"score_thresh": 0.5},
             label="a map whose maximum is 3.0 with a halo at 0.3, score_thresh=0.5 (absolute, not x max)"),
    ]


def _faint_with_halo():
    """A core at 0.3 inside a wide halo at 0.03: cam > 0.05 keeps the core, cam > 0.05 * max the halo."""
    cam = blobs((36, 52), [(3, 33, 4, 48)], [0.03])
    cam[12:22, 14:34] = 0.3
    return cam


def _bbox_variant(relative=False, first=False, xy=False):
    import cv2

    def get_bbox(cam, score_thresh=0.05):
        cam = np.asarray(cam, np.float32)
        limit = score_thresh * cam.max() if relative else score_thresh
        contours, _ = cv2.findContours((cam > limit).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        if not contours:
            return None
        chosen = contours[0] if first else max(contours, key=cv2.contourArea)
        corners = cv2.boxPoints(cv2.minAreaRect(chosen)).astype(np.int32)
        return corners[:, ::-1] if xy else corners

    return get_bbox


_BBOX_MISTAKES = [
    (gives(_bbox_variant(relative=True), _corners_close),
     "Your corners match a threshold relative to the map's maximum (score_thresh * max): here score_thresh is "
     "absolute (cam > score_thresh), as in the lesson."),
    (gives(_bbox_variant(first=True), _corners_close),
     "Your corners are those of the first region OpenCV lists (contours[0]), not of the largest one."),
    (gives(_bbox_variant(xy=True), _corners_close),
     "Your corners look like (row, column) pairs: OpenCV's points are (x, y) = (column, row)."),
    (lambda expected, got, case: expected is None and got is not None,
     "A map with no pixel above score_thresh has no box: return None."),
    (lambda expected, got, case: expected is not None and np.shape(got) == (4,),
     "An upright [ymin, xmin, ymax, xmax] box: get_bbox returns the rotated rectangle's 4 corner points (x, y) "
     "from cv2.boxPoints(cv2.minAreaRect(...))."),
]


q3 = Exercise(
    name="08 q3: rotated box of the largest region",
    func_name="get_bbox",
    cases=_bbox_cases,
    reference=boxes.get_bbox,
    hint=["The lesson's steps, minus its bugs: keep the pixels above score_thresh (an absolute value, not a "
          "fraction of the maximum) in a NEW mask so cam stays as it was, find the regions, take the largest, "
          "and fit the smallest rotated rectangle around it. No region: None.",
          "cv2.findContours on a uint8 mask, cv2.contourArea, cv2.minAreaRect, cv2.boxPoints, .astype(np.int32)."],
    mistakes=_BBOX_MISTAKES,
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
    hint=["Notebook 07's IoU: overlap area over union area, where the overlap may be empty in y, in x or both, "
          "and two empty boxes have an empty union.",
          "max/min of the edges give the overlap; clamp each side with max(0, side); test union > 0."],
    mistakes=iou_mistakes(),
    notebook=NOTEBOOK,
    compare=close(atol=1e-6, rtol=1e-5),
    description="Write `get_iou(gt_bbox, pred_bbox)` for normalized [ymin, xmin, ymax, xmax] boxes; a float in [0, 1].",
)

EXERCISES = [q1, q2, q3, q4]
