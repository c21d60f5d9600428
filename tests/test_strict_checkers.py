"""Strict checkers (issue 12, item 7): for every exercise of notebooks 04-08, the wrong answers a learner
plausibly gives are rejected and the equivalent correct ones accepted, both by ``q.check()``'s path (the public
cases, ``grade``) and by the grader's (``run_cases`` on public + hidden cases, then ``judge``). Where a wrong
answer is a known typical mistake, the Incorrect message names it (the exercise's ``mistakes`` data).

Each table row: (name, function, words the public verdict must contain, or None).
"""
import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf

import camlab.data
from camlab.exercises import ex04, ex05, ex06, ex07, ex08
from camlab.exercises.core import run_cases

import exercise_helpers

SEED = 2027  # the instructor's seed for the hidden cases in these tests


def graded(exercise, fn, seed=SEED):
    return exercise_helpers.graded(exercise, fn, seed)


def _normalized(cam):
    cam = np.maximum(cam, 0)
    return cam / cam.max() if cam.max() > 0 else cam


def _batch_normalized(maps, relu=True):
    maps = np.maximum(maps, 0) if relu else maps
    peaks = maps.max(axis=(1, 2), keepdims=True)
    return np.divide(maps, peaks, out=np.zeros_like(maps), where=peaks > 0)


def _min_max(cam, axes=None):
    cam = np.maximum(cam, 0)
    low, high = cam.min(axis=axes, keepdims=True), cam.max(axis=axes, keepdims=True)
    return np.divide(cam - low, high - low, out=np.zeros_like(cam), where=high > low)


def _nan_unguarded(cam, axes=None):
    cam = np.maximum(cam, 0)
    with np.errstate(invalid="ignore"):
        return cam / cam.max(axis=axes, keepdims=axes is not None)


# ----------------------------------------------------------------------------------------------------------
# 04 q1 cam_from_features(features, weights, class_index)

def _column(f, w, c):
    return np.asarray(f, np.float32) @ np.asarray(w, np.float32)[:, c]


Q04_1_WRONG = [
    ("no ReLU", lambda f, w, c: _column(f, w, c) / _column(f, w, c).max(), "negative values"),
    ("abs instead of ReLU", lambda f, w, c: _normalized(np.abs(_column(f, w, c))), "np.abs"),
    ("min-max normalization", lambda f, w, c: _min_max(_column(f, w, c)), "min-max"),
    ("not divided by the max", lambda f, w, c: np.maximum(_column(f, w, c), 0), "above 1"),
    ("no zero guard", lambda f, w, c: _nan_unguarded(_column(f, w, c)), "divide only when the maximum is > 0"),
    ("ReLU after dividing by the max", lambda f, w, c: np.maximum(_column(f, w, c) / np.abs(_column(f, w, c)).max(), 0)
     if _column(f, w, c).max() > 0 else np.zeros(np.shape(f)[:2]), None),
    ("sum of channels, unweighted", lambda f, w, c: _normalized(np.asarray(f).sum(-1)), None),
]


def _q04_1_loop(features, weights, class_index):
    cam = np.zeros(features.shape[:2])
    for k in range(features.shape[-1]):
        cam += weights[k, class_index] * features[..., k]
    return _normalized(cam).tolist()


Q04_1_CORRECT = [
    ("loop over channels, a list back", _q04_1_loop),
    ("einsum in float64", lambda f, w, c: _normalized(np.einsum("hwk,k->hw", f.astype(np.float64), w[:, c]))),
    ("tensordot", lambda f, w, c: _normalized(np.tensordot(f, w[:, c], axes=([2], [0])))),
]

# ----------------------------------------------------------------------------------------------------------
# 04 q2 cam_batch(features, weights, class_indices)


def _weighted(f, w, classes):
    return np.einsum("nhwk,kn->nhw", np.asarray(f, np.float64), np.asarray(w, np.float64)[:, np.asarray(classes)])


Q04_2_WRONG = [
    ("one maximum for the batch", lambda f, w, c: np.maximum(_weighted(f, w, c), 0) / np.maximum(
        _weighted(f, w, c), 0).max(), "OWN maximum"),
    ("the first class for every image", lambda f, w, c: _batch_normalized(_weighted(f, w, [c[0]] * len(c))),
     "first image's class"),
    ("no ReLU", lambda f, w, c: _batch_normalized(_weighted(f, w, c), relu=False), "negative values"),
    ("min-max per image", lambda f, w, c: _min_max(_weighted(f, w, c), axes=(1, 2)), "min-max"),
    ("no zero guard", lambda f, w, c: _nan_unguarded(_weighted(f, w, c), axes=(1, 2)), "divide only when"),
    ("class 0's column for all", lambda f, w, c: _batch_normalized(_weighted(f, w, np.zeros(len(c), int))), None),
]

Q04_2_CORRECT = [
    ("loop over images", lambda f, w, c: np.stack([_normalized(f[n] @ w[:, c[n]]) for n in range(len(f))])),
    ("einsum and np.divide", lambda f, w, c: _batch_normalized(_weighted(f, w, c)).astype(np.float32)),
    ("TensorFlow", lambda f, w, c: tf.math.divide_no_nan(*(lambda m: (m, tf.reduce_max(m, axis=(1, 2), keepdims=True)))(
        tf.nn.relu(tf.einsum("nhwk,nk->nhw", f, tf.transpose(tf.gather(w, c, axis=1)))))).numpy()),
]

# ----------------------------------------------------------------------------------------------------------
# 04 q3 upsample_cam(cam, height, width)


def _resize(method, swap=False):
    return lambda cam, h, w: cv2.resize(np.asarray(cam, np.float32), (h, w) if swap else (w, h),
                                        interpolation=method)


Q04_3_WRONG = [
    ("height and width swapped", _resize(cv2.INTER_LINEAR, swap=True), "expected shape (20, 30), got (30, 20)"),
    ("nearest neighbour", _resize(cv2.INTER_NEAREST), "nearest-neighbour"),
    ("bicubic", _resize(cv2.INTER_CUBIC), "bicubic"),
    ("Lanczos", _resize(cv2.INTER_LANCZOS4), "Lanczos"),
    ("repeat by whole factors", lambda cam, h, w: np.repeat(np.repeat(cam, -(-h // cam.shape[0]), 0),
                                                            -(-w // cam.shape[1]), 1)[:h, :w], None),
    ("TensorFlow nearest", lambda cam, h, w: tf.image.resize(cam[..., None], (h, w), method="nearest").numpy()[..., 0],
     None),
]

Q04_3_CORRECT = [
    ("cv2 bilinear on float64", lambda cam, h, w: cv2.resize(cam.astype(np.float64), (w, h))),
    ("TensorFlow bilinear", lambda cam, h, w: tf.image.resize(cam[..., None], (h, w)).numpy()[..., 0]),
    ("keras Resizing layer", lambda cam, h, w: keras.layers.Resizing(h, w)(cam[None, ..., None]).numpy()[0, ..., 0]),
]

# ----------------------------------------------------------------------------------------------------------
# 05 q1 channel_weights(gradients)

Q05_1_WRONG = [
    ("sum instead of mean", lambda g: g.sum(axis=(1, 2)), "sums"),
    ("mean over the batch too", lambda g: g.mean(axis=(0, 1, 2)), "batch axis too"),
    ("batch mean broadcast to every image", lambda g: np.broadcast_to(g.mean(axis=(0, 1, 2)), (len(g), g.shape[-1])),
     "same weights"),
    ("the lesson's axes (0, 1)", lambda g: g.mean(axis=(0, 1)), "axes (0, 1)"),
    ("mean over columns and channels", lambda g: g.mean(axis=(2, 3)), "columns and channels"),
    ("max instead of mean", lambda g: g.max(axis=(1, 2)), "largest gradients"),
]

Q05_1_CORRECT = [
    ("tf.reduce_mean", lambda g: tf.reduce_mean(g, axis=(1, 2)).numpy()),
    ("loops", lambda g: [[float(g[n, :, :, k].sum()) / (g.shape[1] * g.shape[2]) for k in range(g.shape[3])]
                         for n in range(g.shape[0])]),
    ("float64 mean, one axis at a time", lambda g: g.astype(np.float64).mean(axis=1).mean(axis=1)),
]

# ----------------------------------------------------------------------------------------------------------
# 05 q2 grad_cam_from_weights(activations, weights)


def _gc(a, w):
    return np.einsum("nhwk,nk->nhw", np.asarray(a, np.float64), np.asarray(w, np.float64))


Q05_2_WRONG = [
    ("one maximum for the batch", lambda a, w: np.maximum(_gc(a, w), 0) / np.maximum(_gc(a, w), 0).max(),
     "OWN maximum"),
    ("no ReLU", lambda a, w: _batch_normalized(_gc(a, w), relu=False), "negative values"),
    ("min-max per image", lambda a, w: _min_max(_gc(a, w), axes=(1, 2)), "min-max"),
    ("no zero guard", lambda a, w: _nan_unguarded(_gc(a, w), axes=(1, 2)), "divide only when"),
    ("not divided by the max", lambda a, w: np.maximum(_gc(a, w), 0), "above 1"),
    ("abs instead of ReLU", lambda a, w: _batch_normalized(np.abs(_gc(a, w))), "np.abs"),
]

Q05_2_CORRECT = [
    ("loop over images", lambda a, w: np.stack([_normalized((a[n] * w[n]).sum(-1)) for n in range(len(a))])),
    ("broadcasting", lambda a, w: _batch_normalized((a * w[:, None, None, :]).sum(-1))),
]

# ----------------------------------------------------------------------------------------------------------
# 05 q3 compute_grad_cam(model, images, class_indices, layer_name)


def _q05_3_predicted(model, images, class_indices, layer_name):
    predicted = np.argmax(model(images).numpy(), axis=-1)
    return ex05._grad_cam_variant()(model, images, predicted, layer_name)


Q05_3_WRONG = [
    ("softmax output instead of the logit", ex05._grad_cam_variant(score="softmax"), "BEFORE the softmax"),
    ("weights averaged over the batch", ex05._grad_cam_variant(axes=(0, 1, 2)), "averaged over the batch"),
    ("no ReLU", ex05._grad_cam_variant(relu=False), "negative values"),
    ("the layer argument ignored", lambda m, x, c, layer: ex05._grad_cam_variant()(m, x, c, "block3_out"),
     "layer named `layer_name`"),
    ("the predicted class instead of the given one", _q05_3_predicted, "PREDICTS"),
    ("min-max normalization", lambda m, x, c, layer: (lambda maps: _min_max(maps, axes=(1, 2)))(
        ex05._grad_cam_variant()(m, x, c, layer)), "min-max"),
]

Q05_3_CORRECT = [
    ("a tape on the logits", ex05._grad_cam_variant()),
    ("float64 images", lambda m, x, c, layer: ex05._grad_cam_variant()(m, x.astype(np.float64), list(c), layer)),
]

# ----------------------------------------------------------------------------------------------------------
# 06 q1 cam_to_bbox(cam, threshold=0.2)


def _bbox(kind=None):
    def cam_to_bbox(cam, threshold=0.2):
        if kind == "in_place":
            cam[cam <= threshold * cam.max()] = 0
        cam = np.asarray(cam, np.float32)
        if cam.max() <= 0:
            return [0.0, 0.0, 0.0, 0.0] if kind == "zeros_when_empty" else None
        limit = threshold if kind == "absolute" else threshold * cam.max()
        contours, _ = cv2.findContours((cam > limit).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        if not contours:
            return None
        x, y, w, h = cv2.boundingRect(contours[0] if kind == "first" else max(contours, key=cv2.contourArea))
        H, W = cam.shape
        if kind == "xy_swapped":
            return [x / W, y / H, (x + w) / W, (y + h) / H]
        if kind == "pixels":
            return [y, x, y + h, x + w]
        if kind == "minus_one":
            return [y / H, x / W, (y + h - 1) / H, (x + w - 1) / W]
        return [y / H, x / W, (y + h) / H, (x + w) / W]

    return cam_to_bbox


Q06_1_WRONG = [
    ("absolute threshold", _bbox("absolute"), "absolute threshold"),
    ("contours[0]", _bbox("first"), "contours[0]"),
    ("x and y swapped", _bbox("xy_swapped"), "x and y swapped"),
    ("box in pixels", _bbox("pixels"), "in pixels"),
    ("zeros instead of None", _bbox("zeros_when_empty"), "return None"),
    ("one pixel short", _bbox("minus_one"), "one pixel short"),
    ("the map changed in place", _bbox("in_place"), "changed its input"),
]


def _q06_1_components(cam, threshold=0.2):
    if cam.max() <= 0:
        return None
    count, _, stats, _ = cv2.connectedComponentsWithStats((cam > threshold * cam.max()).astype(np.uint8))
    if count < 2:
        return None
    x, y, w, h, _ = stats[1 + np.argmax(stats[1:, 4])]
    return np.array([y / cam.shape[0], x / cam.shape[1], (y + h) / cam.shape[0], (x + w) / cam.shape[1]], np.float32)


Q06_1_CORRECT = [("contours, a list back", _bbox()), ("connected components, float32", _q06_1_components)]

# ----------------------------------------------------------------------------------------------------------
# 06 q2 rect_to_minmax(points, image_shape)

Q06_2_WRONG = [
    ("x and y swapped", ex06._rect_variant(order=(0, 1), divide_by=lambda h, w: (w, h)), "x and y swapped"),
    ("points read as (row, column)", ex06._rect_variant(order=(0, 1)), "(row, column)"),
    ("height and width mixed up", ex06._rect_variant(divide_by=lambda h, w: (w, h)), "divided by the width"),
    ("no clipping", ex06._rect_variant(clip=False), "clip the box"),
    ("divided by size - 1", ex06._rect_variant(divide_by=lambda h, w: (h - 1, w - 1)), "height - 1"),
]


def _q06_2_plain(points, image_shape):
    ys, xs = [float(p[1]) for p in points], [float(p[0]) for p in points]
    h, w = image_shape[0], image_shape[1]
    return [max(0.0, min(ys) / h), max(0.0, min(xs) / w), min(1.0, max(ys) / h), min(1.0, max(xs) / w)]


Q06_2_CORRECT = [
    ("plain Python, a list back", _q06_2_plain),
    ("vectorized float32", lambda p, s: np.clip(np.concatenate([p.min(0)[::-1], p.max(0)[::-1]]).astype(np.float32)
                                                / np.array([s[0], s[1], s[0], s[1]], np.float32), 0, 1)),
]

# ----------------------------------------------------------------------------------------------------------
# 07 q1 / 08 q4 get_iou(a, b); 07 q2 pairwise_iou

from camlab.exercises import fixtures  # noqa: E402


def _iou_nan(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    side = np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None)
    inter = side[0] * side[1]
    with np.errstate(invalid="ignore"):
        return inter / (np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inter)


def _iou_zero_division(a, b):
    height, width = (max(0.0, s) for s in fixtures._sides(a, b))
    return height * width / (fixtures._area(a) + fixtures._area(b) - height * width)


IOU_WRONG = [
    ("no clamp", fixtures.iou_without_clamp, "clamp the intersection"),
    ("the product clamped", fixtures.iou_clamping_the_product, "EACH side"),
    ("boxes read as (xmin, xmax, ymin, ymax)", fixtures.iou_read_as_x_pairs, "(xmin, xmax, ymin, ymax)"),
    ("the overlap counted twice", fixtures.iou_over_the_sum, "twice"),
    ("the pixel formula's +1", fixtures.iou_plus_one, "+1"),
    ("NaN on a zero union", _iou_nan, "guard a zero union"),
    ("ZeroDivisionError on a zero union", _iou_zero_division, "ZeroDivisionError"),
]


def _iou_plain(a, b):
    height = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    width = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = fixtures._area(a) + fixtures._area(b) - height * width
    return height * width / union if union > 0 else 0


def _iou_numpy(a, b):
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    side = np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None)
    union = np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - side.prod()
    return np.float32(side.prod() / union) if union > 0 else np.float32(0)


IOU_CORRECT = [("plain Python (an int 0 back)", _iou_plain), ("NumPy float32", _iou_numpy),
               ("x and y read swapped in both boxes (IoU is symmetric)",
                lambda a, b: _iou_plain([a[1], a[0], a[3], a[2]], [b[1], b[0], b[3], b[2]]))]


def _pairwise(iou):
    return lambda boxes_a, boxes_b: [[iou(a, b) for b in boxes_b] for a in boxes_a]


def _pairwise_vectorized(guard=True, clamp=True):
    def pairwise_iou(boxes_a, boxes_b):
        a, b = np.asarray(boxes_a, np.float64)[:, None], np.asarray(boxes_b, np.float64)[None]
        sides = np.minimum(a[..., 2:], b[..., 2:]) - np.maximum(a[..., :2], b[..., :2])
        sides = np.clip(sides, 0, None) if clamp else sides
        inter = sides[..., 0] * sides[..., 1]
        union = np.prod(a[..., 2:] - a[..., :2], -1) + np.prod(b[..., 2:] - b[..., :2], -1) - inter
        if guard:
            return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        with np.errstate(invalid="ignore"):
            return inter / union

    return pairwise_iou


Q07_2_WRONG = [
    ("element-wise instead of every pair", lambda a, b: [_iou_plain(x, y) for x, y in zip(a, b)], "every pair"),
    ("no zero-union guard (NaN)", _pairwise_vectorized(guard=False), "guard a zero union"),
    ("no clamp", _pairwise_vectorized(clamp=False), "clamp"),  # case 2 cannot tell it from a clamped product
    ("the product clamped", _pairwise(fixtures.iou_clamping_the_product), "EACH side"),
    ("the overlap counted twice", _pairwise(fixtures.iou_over_the_sum), "twice"),
    ("the table transposed", lambda a, b: np.transpose(_pairwise_vectorized()(a, b)), "transposed"),
]

Q07_2_CORRECT = [("a loop of one-pair IoUs", _pairwise(_iou_plain)), ("broadcast", _pairwise_vectorized()),
                 ("float32 broadcast", lambda a, b: _pairwise_vectorized()(a, b).astype(np.float32))]

# ----------------------------------------------------------------------------------------------------------
# 07 q3 gt_known_accuracy(pred_boxes, gt_boxes, iou_threshold=0.5)

Q07_3_WRONG = [
    ("images without a box left out", ex07._skipping_none, "left out"),
    ("IoU > threshold", ex07._strict, "exactly at the threshold"),
    ("the mean IoU", ex07._mean_iou, "mean IoU"),
    ("the number of hits", ex07._hit_count, "number of hits"),
    ("the threshold ignored (always 0.5)", lambda p, g, iou_threshold=0.5: float(np.mean(
        [b is not None and _iou_plain(b, t) >= 0.5 for b, t in zip(p, g)])), "argument looks ignored"),
]

Q07_3_CORRECT = [
    ("a loop", lambda p, g, iou_threshold=0.5: sum(b is not None and _iou_plain(b, t) >= iou_threshold
                                                   for b, t in zip(p, g)) / len(g)),
    ("NumPy", lambda p, g, iou_threshold=0.5: np.mean(np.array([-1.0 if b is None else _iou_numpy(b, t)
                                                                for b, t in zip(p, g)]) >= iou_threshold)),
]

# ----------------------------------------------------------------------------------------------------------
# 08 q1 generate_cam(model, item); q2 generate_grad_cam(model, layer, item)


def _features(model, layer_name, item):
    image, label = camlab.data.normalize_and_resize_img(item, model.input_shape[1:3])
    probe = keras.Model(model.input, [model.get_layer(layer_name).output if layer_name else
                                      model.get_layer("avg_pool").input, model.get_layer("avg_pool").output,
                                      model.output])
    return probe, image[None], int(label)


def _finish(cam, item, relu=True, size=True, minmax=False, guard=True, swap=False):
    cam = np.asarray(cam, np.float32)
    cam = np.maximum(cam, 0) if relu else cam
    if minmax:
        cam = _min_max(cam)
    elif guard:
        cam = cam / cam.max() if cam.max() > 0 else cam
    else:
        with np.errstate(invalid="ignore"):
            cam = cam / cam.max()
    if not size:
        return cam
    height, width = item["image"].shape[:2]
    return cv2.resize(cam, (height, width) if swap else (width, height))


def _cam(predicted=False, **finish):
    def generate_cam(model, item):
        probe, image, label = _features(model, None, item)
        features, _, probs = probe(image)
        if predicted:
            label = int(np.argmax(probs[0]))
        return _finish(features[0].numpy() @ model.get_layer("predictions").kernel.numpy()[:, label], item, **finish)

    return generate_cam


Q08_1_WRONG = [
    ("no ReLU", _cam(relu=False), "negative values"),
    ("no zero guard", _cam(guard=False), "divide only when"),
    ("the predicted class", _cam(predicted=True), "PREDICTS"),
    ("left at the feature map's size", _cam(size=False), "ORIGINAL size"),
    ("resized to (height, width) in OpenCV", _cam(swap=True), "Height and width look swapped"),
    ("min-max normalization", _cam(minmax=True), "min-max"),
]


def _cam_tf(model, item):
    probe, image, label = _features(model, None, item)
    features = probe(image)[0][0]
    cam = tf.nn.relu(tf.tensordot(features, model.get_layer("predictions").kernel[:, label], 1))
    cam = tf.math.divide_no_nan(cam, tf.reduce_max(cam))
    return tf.image.resize(cam[..., None], item["image"].shape[:2]).numpy()[..., 0]


Q08_1_CORRECT = [("NumPy and OpenCV", _cam()), ("TensorFlow only", _cam_tf)]


def _grad_cam(mistake=None):
    def generate_grad_cam(model, activation_layer, item):
        probe, image, label = _features(model, activation_layer, item)
        dense = model.get_layer("predictions")
        with tf.GradientTape() as tape:
            features, pooled, probs = probe(image)
            score = probs[:, label] if mistake == "softmax" else (pooled @ dense.kernel + dense.bias)[:, label]
        grads = tape.gradient(score, features)
        if mistake == "batch_axis":
            weights = tf.reduce_mean(grads, axis=(0, 1))  # the lesson's axes on the 4-D tensor
        elif mistake == "relu_gradients":
            weights = tf.reduce_mean(tf.nn.relu(grads[0]), axis=(0, 1))
        elif mistake == "sum":
            weights = tf.reduce_sum(grads[0], axis=(0, 1)) * 1.0 + 0.0 * tf.reduce_mean(grads[0], axis=(0, 1))
        else:
            weights = tf.reduce_mean(grads[0], axis=(0, 1))
        cam = tf.reduce_sum(features[0] * weights, axis=-1).numpy()
        if mistake == "cam_weights":
            cam = features[0].numpy() @ dense.kernel.numpy()[:, label]
        return _finish(cam, item, relu=mistake != "no_relu", minmax=mistake == "min_max")

    return generate_grad_cam


Q08_2_WRONG = [
    ("softmax probability", _grad_cam("softmax"), "BEFORE the softmax"),
    ("the lesson's axes on a batch", _grad_cam("batch_axis"), "column to column"),
    ("no ReLU", _grad_cam("no_relu"), "negative values"),
    ("ReLU on the gradients", _grad_cam("relu_gradients"), "ReLU went on the gradients"),
    ("min-max normalization", _grad_cam("min_max"), "min-max"),
    ("CAM whatever the layer", lambda m, layer, item: _cam()(m, item), "CAM's maps of the last feature layer"),
    ("CAM's weights on any layer (the kernel does not fit an earlier layer: it raises)",
     lambda m, layer, item: _cam()(m, item) if layer == "block2_out" else _grad_cam("cam_weights")(m, layer, item),
     "matmul"),
]

Q08_2_CORRECT = [("a tape on the logit", _grad_cam()),
                 ("the sum of gradients (a positive factor: the same map after scaling)", _grad_cam("sum"))]

# ----------------------------------------------------------------------------------------------------------
# 08 q3 get_bbox(cam, score_thresh=0.05)


def _in_place(cam, score_thresh=0.05):
    cam[cam <= score_thresh] = 0  # the lesson's line
    return ex08._bbox_variant()(cam, score_thresh)


def _crashes_on_empty(cam, score_thresh=0.05):
    contours, _ = cv2.findContours((cam > score_thresh).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return cv2.boxPoints(cv2.minAreaRect(max(contours, key=cv2.contourArea))).astype(np.int32)


def _upright(cam, score_thresh=0.05):
    contours, _ = cv2.findContours((cam > score_thresh).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    x, y, w, h = cv2.boundingRect(max(contours, key=cv2.contourArea))
    return [y, x, y + h, x + w]


Q08_3_WRONG = [
    ("a relative threshold", ex08._bbox_variant(relative=True), "relative to the map's maximum"),
    ("contours[0]", ex08._bbox_variant(first=True), "contours[0]"),
    ("(row, column) corners", ex08._bbox_variant(xy=True), "(row, column)"),
    ("the map changed in place", _in_place, "changed its input"),
    ("a crash on an empty map", _crashes_on_empty, "all-zero map"),
    ("an upright box instead of corners", _upright, "rotated rectangle"),
]


def _bbox_components(cam, score_thresh=0.05):
    count, labels, stats, _ = cv2.connectedComponentsWithStats((cam > score_thresh).astype(np.uint8))
    if count < 2:
        return None
    largest = (labels == 1 + np.argmax(stats[1:, 4])).astype(np.uint8)
    contours, _ = cv2.findContours(largest, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    return cv2.boxPoints(cv2.minAreaRect(contours[0]))[::-1].tolist()


Q08_3_CORRECT = [("contours, int corners", ex08._bbox_variant()),
                 ("connected components, float corners in another order, a list", _bbox_components)]

# ----------------------------------------------------------------------------------------------------------

TABLES = [
    (ex04.q1, Q04_1_WRONG, Q04_1_CORRECT), (ex04.q2, Q04_2_WRONG, Q04_2_CORRECT),
    (ex04.q3, Q04_3_WRONG, Q04_3_CORRECT),
    (ex05.q1, Q05_1_WRONG, Q05_1_CORRECT), (ex05.q2, Q05_2_WRONG, Q05_2_CORRECT),
    (ex05.q3, Q05_3_WRONG, Q05_3_CORRECT),
    (ex06.q1, Q06_1_WRONG, Q06_1_CORRECT), (ex06.q2, Q06_2_WRONG, Q06_2_CORRECT),
    (ex07.q1, IOU_WRONG, IOU_CORRECT), (ex07.q2, Q07_2_WRONG, Q07_2_CORRECT), (ex07.q3, Q07_3_WRONG, Q07_3_CORRECT),
    (ex08.q1, Q08_1_WRONG, Q08_1_CORRECT), (ex08.q2, Q08_2_WRONG, Q08_2_CORRECT),
    (ex08.q3, Q08_3_WRONG, Q08_3_CORRECT), (ex08.q4, IOU_WRONG, IOU_CORRECT),
]

WRONG = [pytest.param(q, fn, words, id=f"{q.notebook}-{q.func_name}-{name}")
         for q, wrong, _ in TABLES for name, fn, words in wrong]
CORRECT = [pytest.param(q, fn, id=f"{q.notebook}-{q.func_name}-{name}")
           for q, _, correct in TABLES for name, fn in correct]


def test_every_exercise_has_five_wrong_answers_and_two_correct_ones():
    assert len(TABLES) == 15
    for q, wrong, correct in TABLES:
        assert len(wrong) >= 5 and len(correct) >= 2, q.name


@pytest.mark.parametrize("exercise, fn, words", WRONG)
def test_wrong_answers_are_rejected_publicly_and_by_the_grader(exercise, fn, words):
    public = exercise.grade(fn)
    assert public.status in ("incorrect", "error"), public
    if words:
        assert words in public.message, public.message
    result = graded(exercise, fn)
    assert result.status in ("incorrect", "error") and result.scope == "graded", result


@pytest.mark.parametrize("exercise, fn", CORRECT)
def test_equivalent_correct_answers_are_accepted_publicly_and_by_the_grader(exercise, fn):
    public = exercise.grade(fn)
    assert public.status == "correct", public
    result = graded(exercise, fn)
    assert result.status == "correct", result
    assert result.passed == result.total > len(exercise.cases)


@pytest.mark.parametrize("exercise", [ex05.q3, ex08.q1], ids=lambda q: q.func_name)
def test_model_exercises_have_a_map_positive_everywhere_in_public_and_hidden_cases(exercise):
    """Only such a map tells min-max normalization from dividing by the maximum."""
    for cases in (exercise.cases, exercise.hidden_cases(SEED)):
        assert any(np.min(case.expected.value) > 0.02 for case in cases)


def test_a_mistake_on_a_hidden_case_is_named_without_showing_the_input():
    """A function that is right on the public cases and makes a known mistake only on hidden ones."""
    public = {case.args[0].tobytes() for case in ex05.q1.cases}

    def channel_weights(gradients):
        axes = (1, 2) if gradients.tobytes() in public else (0, 1, 2)
        return np.broadcast_to(gradients.mean(axis=axes, keepdims=True)[:, 0, 0] if axes == (1, 2) else
                               gradients.mean(axis=axes), (len(gradients), gradients.shape[-1]))

    assert ex05.q1.grade(channel_weights).status == "correct"
    result = graded(ex05.q1, channel_weights)
    assert result.status == "incorrect"
    assert "hidden case" in result.message and "same weights" in result.message
    assert "values differ" not in result.message  # nothing of the hidden answer shows


# ----------------------------------------------------------------------------------------------------------
# Notebooks 02, 03 and 11: their wrong answers (written in their own test modules) named, their correct ones
# accepted, by the public check and by the grader.

import test_ex02  # noqa: E402
import test_ex03  # noqa: E402
import test_ex11  # noqa: E402
from camlab.exercises import ex02, ex03, ex11  # noqa: E402

Q02_WRONG = [("the lesson's layers[-3]", test_ex02._lesson_position, "position"),
             ("the pooling layer", test_ex02._pooling_layer, "pooling layer itself"),
             ("the nested backbone", test_ex02._backbone_not_opened, "nested backbone"),
             ("the last Conv2D", test_ex02._last_conv2d, "BatchNormalization and an Activation follow"),
             ("the kernel transposed", test_ex02._transposed, "looks transposed"),
             ("the bias", test_ex02._bias, "bias")]
Q02_CORRECT = [("by connection, a nested list", test_ex02._by_connection),
               ("by type, a tuple", lambda m: (test_ex02._by_connection(m)[0], test_ex02._kernel(m)))]
Q03_WRONG = [("no * 255", test_ex03._lesson_bug, "/255 bug"), ("no flip", test_ex03._no_flip, "RGB order: reverse"),
             ("the mean in RGB order", test_ex03._mean_in_rgb_order, "mean looks subtracted in RGB order"),
             ("torch-style", test_ex03._torch_style, "standard deviation"),
             ("no mean", test_ex03._no_mean, "mean is not subtracted"),
             ("the 'tf' mode", lambda x: np.asarray(x) * 2.0 - 1.0, "'tf' preprocessing")]
Q03_CORRECT = [("Keras's preprocess_input", test_ex03._keras_function), ("a loop, float64", test_ex03._loop)]


def _pointing(mistake):
    return lambda cam, gt_boxes, tolerance=15: test_ex11.pointing_hit(cam, gt_boxes, tolerance, mistake)


def _passing(mistake):
    return lambda rows, methods, threshold=0.5, metric="spearman": test_ex11.passing_methods(rows, methods, threshold,
                                                                                           metric, mistake)


Q11_1_WRONG = [("inside only", _pointing("inside_only"), "a hit too"), ("max(dy, dx)", _pointing("grown_box"), "hypot"),
               ("the pixel's corner", _pointing("no_centre"), "row + 0.5"),
               ("the first box only", _pointing("first_box_only"), "ANY of the boxes"),
               ("a flat map points", _pointing("constant_map_points"), "no peak"),
               ("x and y swapped", _pointing("xy_swapped"), "x and y swapped"),
               ("the last maximum", _pointing("last_maximum"), "LAST of several"),
               ("tolerance ignored", _pointing("fixed_tolerance"), "`tolerance` argument looks ignored")]
Q11_1_CORRECT = [("hand-written", _pointing(None)), ("camlab-free NumPy, np.bool_ back",
                                                      lambda c, b, tolerance=15: np.bool_(_pointing(None)(c, b, tolerance)))]
Q11_2_WRONG = [("rows[0]", _passing("original_row"), "rows[0]"), ("the last row", _passing("last_row"), "last row"),
               ("a mean over the steps", _passing("mean_of_random_rows"), "averaged"),
               ("<= threshold", _passing("at_most"), "strictly below"), ("inverted", _passing("inverted"), "PASSES"),
               ("metric ignored", _passing("ignores_metric"), "`metric` argument"),
               ("sorted", _passing("sorted"), "sorted by name"), ("a dict", _passing("dict"), "expected a list")]
Q11_2_CORRECT = [("hand-written", _passing(None)),
                 ("a tuple", lambda rows, methods, threshold=0.5, metric="spearman": tuple(_passing(None)(
                     rows, methods, threshold, metric)))]

MORE_TABLES = [(ex02.q1, Q02_WRONG, Q02_CORRECT), (ex03.q1, Q03_WRONG, Q03_CORRECT),
               (ex11.q1, Q11_1_WRONG, Q11_1_CORRECT), (ex11.q2, Q11_2_WRONG, Q11_2_CORRECT)]


@pytest.mark.parametrize("exercise, fn, words", [
    pytest.param(q, fn, words, id=f"{q.notebook}-{q.func_name}-{name}") for q, wrong, _ in MORE_TABLES
    for name, fn, words in wrong])
def test_wrong_answers_of_02_03_11_are_rejected_and_named(exercise, fn, words):
    test_wrong_answers_are_rejected_publicly_and_by_the_grader(exercise, fn, words)


@pytest.mark.parametrize("exercise, fn", [pytest.param(q, fn, id=f"{q.notebook}-{q.func_name}-{name}")
                                          for q, _, correct in MORE_TABLES for name, fn in correct])
def test_correct_answers_of_02_03_11_are_accepted(exercise, fn):
    test_equivalent_correct_answers_are_accepted_publicly_and_by_the_grader(exercise, fn)


ALL_TABLES = TABLES + MORE_TABLES


def test_every_exercise_of_these_modules_has_its_table():
    modules = [ex02, ex03, ex04, ex05, ex06, ex07, ex08, ex11]
    assert {id(q) for m in modules for q in m.EXERCISES} == {id(q) for q, _, _ in ALL_TABLES}
    for q, wrong, correct in ALL_TABLES:
        assert len(wrong) >= 5 and len(correct) >= 2, q.name


# ----------------------------------------------------------------------------------------------------------
# Hints: two stages, the idea then the API, never the code

@pytest.mark.parametrize("exercise", [q for q, _, _ in ALL_TABLES], ids=lambda q: f"{q.notebook}-{q.func_name}")
def test_two_staged_hints_the_first_without_api_names(exercise):
    idea, api = exercise.hints
    assert not any(word in idea for word in ("np.", "cv2.", "tf.", "keras.", "model.", "[:", "()")), idea
    assert len(idea) < 450 and len(api) < 350
    assert "=" not in api.replace("==", "").replace("axis=", "").replace("where=", "").replace("keepdims=", "") \
        .replace("batch_dims=", "").replace("interpolation=", "").replace("out=", ""), api  # no assignments


# ----------------------------------------------------------------------------------------------------------
# Hidden cases: the edge cases come back with other numbers, so special-casing the public inputs fails

def _key(value):
    if isinstance(value, np.ndarray):
        return "a", value.shape, value.dtype.str, value.tobytes()
    if isinstance(value, (list, tuple)):
        return "l", tuple(_key(v) for v in value)
    if isinstance(value, dict):
        return "d", tuple(sorted((k, _key(v)) for k, v in value.items()))
    if hasattr(value, "get_weights"):  # a Keras model: its layer names (a lookup by names is special-casing too)
        return "m", tuple(layer.name for layer in value.layers)
    return "s", repr(value)


def _special_casing(exercise, wrong):
    """Gives the public answers on the public inputs (by a lookup), ``wrong``'s answers on any other input."""
    answers = {_key((case.args, case.kwargs)): case.expected.value for case in exercise.cases}

    def fn(*args, **kwargs):
        key = _key((args, kwargs))
        return answers[key] if key in answers else wrong(*args, **kwargs)

    return fn


@pytest.mark.parametrize("exercise, fn, words", [
    pytest.param(q, fn, words, id=f"{q.notebook}-{q.func_name}-{name}") for q, wrong, _ in ALL_TABLES
    for name, fn, words in wrong])
def test_a_wrong_answer_that_special_cases_the_public_inputs_fails_the_hidden_ones(exercise, fn, words):
    cheat = _special_casing(exercise, fn)
    assert exercise.grade(cheat).status == "correct"
    assert graded(exercise, cheat).status in ("incorrect", "error")


# ----------------------------------------------------------------------------------------------------------
# Named mistakes fire only on their own mistake

def test_the_xy_swap_message_does_not_name_other_mistakes():
    for fn in (_bbox("absolute"), _bbox("first"), _bbox("minus_one")):
        assert "x and y swapped" not in ex06.q1.grade(fn).message
    for fn in (ex06._rect_variant(clip=False), ex06._rect_variant(divide_by=lambda h, w: (h - 1, w - 1))):
        assert "x and y swapped" not in ex06.q2.grade(fn).message
    assert "x and y swapped" not in ex11.q1.grade(_pointing("fixed_tolerance")).message
    assert "(xmin, xmax, ymin, ymax)" not in ex07.q1.grade(fixtures.iou_over_the_sum).message


@pytest.mark.parametrize("exercise, fn", [
    (ex04.q1, Q04_1_WRONG[6][1]), (ex04.q1, Q04_1_WRONG[5][1]), (ex05.q2, Q05_2_WRONG[0][1]),
    (ex11.q1, lambda cam, gt_boxes, tolerance=15: False), (ex11.q1, lambda cam, gt_boxes, tolerance=15: True),
    (ex11.q2, lambda rows, methods, threshold=0.5, metric="spearman": list(methods[:1])),
    (ex03.q1, lambda x: np.asarray(x)[..., ::-1] * 255.0 - 100.0),
    (ex07.q3, lambda p, g, iou_threshold=0.5: 0.25)])
def test_unrelated_wrong_answers_get_no_misleading_name(exercise, fn):
    """Answers that make no listed mistake (or one named by its own words) get no other mistake's message."""
    result = exercise.grade(fn)
    assert result.status == "incorrect"
    named = [message for _, message in exercise.mistakes if message in result.message]
    allowed = {ex05.q2: ["OWN maximum"]}.get(exercise, [])
    assert all(any(word in message for word in allowed) for message in named), named


@pytest.mark.parametrize("exercise, fn", [pytest.param(q, fn, id=f"{q.notebook}-{q.func_name}-{name}")
                                          for q, _, correct in ALL_TABLES for name, fn in correct])
def test_no_diagnosis_fires_on_a_correct_answer(exercise, fn):
    outputs = exercise.run_cases(fn)
    from camlab.exercises.core import _diagnosis

    for case, outcome in zip(exercise.cases, outputs["outcomes"]):
        assert _diagnosis(exercise.mistakes, case.expected.value, outcome["value"], case) is None, case.label


# ----------------------------------------------------------------------------------------------------------
# The known false accepts of issue 12 stay covered by cases

def test_the_issues_false_accepts_stay_covered_in_public_and_hidden_cases():
    for cases in (ex04.q1.cases, ex04.q1.hidden_cases(SEED)):  # every map min 0: max-norm = min-max
        assert any(np.min(case.expected.value) > 0.02 for case in cases)
    for cases in (ex07.q2.cases, ex07.q2.hidden_cases(SEED)):  # a zero-area box paired with itself
        assert any(np.any((a[:, 2] == a[:, 0]) & (a[:, 3] == a[:, 1])) and np.array_equal(a, b)
                   for a, b in (map(np.asarray, case.args) for case in cases))
    for cases in (ex08.q3.cases, ex08.q3.hidden_cases(SEED)):  # not every map peaks at 1.0: absolute vs relative
        assert any(case.args[0].max() < 0.9 for case in cases) and any(case.args[0].max() > 1.1 for case in cases)
