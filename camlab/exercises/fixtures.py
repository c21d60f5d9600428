"""Inputs the exercise modules share: seeded generators, hand-made maps and boxes, tiny Keras models.

Every generator takes a NumPy ``Generator`` (``rng(seed)``) so that an exercise's cases can be drawn again with
another seed: the public cases with the module's default seed, the grader's hidden cases with the instructor's.
"""
from __future__ import annotations

import functools

import numpy as np

from camlab.exercises.core import Case


def rng(seed):
    """NumPy's default generator for ``seed``."""
    return np.random.default_rng(seed)


# ----------------------------------------------------------------------------------------------------------
# Hidden variants of the hand-made inputs. A public case's hand-made input (the map with a halo, the two point
# boxes...) makes one mistake visible; its hidden twin keeps that edge with other numbers, so an answer that
# special-cases the public inputs meets inputs it has not seen.

class Variants:
    """Moves hand-made inputs for hidden cases: ``public=True`` (the public seed) gives them back unchanged,
    otherwise every call draws a new move from ``generator``."""

    def __init__(self, generator, public):
        self.generator, self.public = generator, bool(public)

    def map(self, cam, pad=6, scale=(0.8, 1.5)):
        """``cam`` with 0..``pad`` zero rows and columns added on each side (its regions keep their shape and
        order) and its values times a factor drawn from ``scale`` (relative thresholds see the same mask)."""
        if self.public:
            return cam
        cam = np.asarray(cam)
        (top, bottom), (left, right) = (self.generator.integers(0, pad + 1, 2) for _ in range(2))
        factor = float(self.generator.uniform(*scale))
        return (np.pad(cam, ((int(top), int(bottom)), (int(left), int(right)))) * factor).astype(cam.dtype)

    def boxes(self, *groups):
        """Every box of ``groups`` (one box, or an (N, 4) list or array each) through one affine map per axis,
        ``y -> o + s * y`` with s in {1/2, 3/4} and o a multiple of 1/16: IoUs stay the same (exactly, for boxes
        whose coordinates are multiples of 1/16), the containers (list, float32 array) stay what they were."""
        if self.public:
            return groups if len(groups) > 1 else groups[0]
        scale = self.generator.choice([0.5, 0.75], 2)
        offset = np.array([self.generator.integers(0, int(16 * (1 - s)) + 1) / 16 for s in scale])
        factors, offsets = np.tile(scale, 2), np.tile(offset, 2)

        def move(group):
            if group is None:  # "no box" stays no box
                return None
            if isinstance(group, np.ndarray):
                return (offsets + factors * group.astype(np.float64)).astype(group.dtype)
            if any(box is None or isinstance(box, (list, tuple, np.ndarray)) for box in group):
                return [move(box) for box in group]
            return [float(v) for v in offsets + factors * np.asarray(group, np.float64)]

        moved = tuple(move(group) for group in groups)
        return moved if len(moved) > 1 else moved[0]


# ----------------------------------------------------------------------------------------------------------
# Maps

def blobs(shape, rects, values=None):
    """A float32 map with rectangles (y0, y1, x0, x1) filled with ``values`` (1.0 by default)."""
    cam = np.zeros(shape, np.float32)
    for i, (y0, y1, x0, x1) in enumerate(rects):
        cam[y0:y1, x0:x1] = 1.0 if values is None else values[i]
    return cam


def gaussian(shape, center, sigma, peak=1.0):
    """A smooth bump like a real map: ``peak * exp(-|p - center|^2 / (2 sigma^2))``."""
    yy, xx = np.mgrid[: shape[0], : shape[1]].astype(np.float32)
    d2 = (yy - center[0]) ** 2 + (xx - center[1]) ** 2
    return (peak * np.exp(-d2 / (2.0 * sigma**2))).astype(np.float32)


def random_regions(generator, shape=(32, 48)):
    """A map with a large region (value 0.8) and a small, brighter one (1.0) at random places, apart."""
    height, width = shape
    y0 = int(generator.integers(1, height // 3))
    x0 = int(generator.integers(1, width // 4))
    large = (y0, y0 + int(generator.integers(height // 3, height // 2)), x0,
             x0 + int(generator.integers(width // 3, width // 2)))
    sy = int(generator.integers(large[1] + 2, height - 4))
    sx = int(generator.integers(width // 2 + 4, width - 5))
    return blobs(shape, [large, (sy, sy + 3, sx, sx + 4)], [0.8, 1.0])


# ----------------------------------------------------------------------------------------------------------
# Diagnoses of maps normalized to [0, 1] by their maximum: (diagnose, message) pairs for an exercise's mistakes

def has_negative(expected, got, case):
    """The answer has negative values (no ReLU)."""
    return np.nanmin(np.asarray(got, np.float64)) < -1e-6


def min_max_of(expected, got, case):
    """``got`` is ``(M - min) / (max - min)`` per map, where the expected ``M / max`` has a positive minimum."""
    want, have = np.asarray(expected, np.float64), np.asarray(got, np.float64)
    axes = tuple(range(want.ndim - 2, want.ndim))
    low = want.min(axis=axes, keepdims=True)
    span = 1.0 - low
    guess = np.divide(want - low, span, out=np.zeros_like(want), where=span > 0)
    return have.shape == want.shape and bool((low > 1e-3).any()) and np.allclose(have, guess, atol=1e-4)


def scaled_per_map(expected, got, case):
    """Each map is the expected one times a factor, the largest factor 1 and some below: one maximum for the
    whole batch."""
    want, have = np.asarray(expected, np.float64), np.asarray(got, np.float64)
    if have.shape != want.shape or want.ndim != 3:
        return False
    peaks, expected_peaks = have.max(axis=(1, 2)), want.max(axis=(1, 2))
    dimmed = (peaks < 1 - 1e-4) & (expected_peaks > 0.5)  # a map that should peak at 1 (all-zero maps stay 0)
    return bool(dimmed.any()) and abs(peaks.max() - 1.0) < 1e-4 and np.allclose(have, want * peaks[:, None, None], atol=1e-4)


def not_normalized(expected, got, case):
    """Non-negative values above 1: the map was not divided by its maximum."""
    have = np.asarray(got, np.float64)
    return np.nanmax(have) > 1 + 1e-4 and np.nanmin(have) >= 0


def has_nan(expected, got, case):
    """NaN in the answer where the expected map is all zeros: 0 / 0 on a map with no positive value."""
    have, want = np.asarray(got, np.float64), np.asarray(expected, np.float64)
    return have.shape == want.shape and bool(np.isnan(have).any()) and not np.isnan(want).any()


_NO_GUARD = ("NaN where the map has no positive value (0 / 0): divide only when the maximum is > 0; such a map "
             "stays all zeros.")
_NO_RELU = "Your map has negative values: apply the ReLU (np.maximum(cam, 0)) before dividing by the maximum."
_MIN_MAX = ("Your map looks min-max normalized ((cam - min) / (max - min)): after the ReLU, divide by the maximum "
            "only, so a map that is positive everywhere keeps its lowest value above 0.")
_NOT_DIVIDED = "Your map has values above 1: divide it by its maximum (when the maximum is > 0)."
MAP_MISTAKES = [(has_nan, _NO_GUARD), (has_negative, _NO_RELU), (min_max_of, _MIN_MAX), (not_normalized, _NOT_DIVIDED)]
BATCH_MISTAKES = [(scaled_per_map, "Some maps peak below 1: divide each image's map by its OWN maximum (axis=(1, "
                                   "2), keepdims=True), not by one maximum for the whole batch."), *MAP_MISTAKES]


# ----------------------------------------------------------------------------------------------------------
# Boxes: normalized [ymin, xmin, ymax, xmax]

def random_box(generator):
    """A normalized box of random position and size (at least 0.05 on each side)."""
    y, x = generator.uniform(0.0, 0.6, 2)
    h, w = generator.uniform(0.05, 0.4, 2)
    return [float(y), float(x), float(min(y + h, 1.0)), float(min(x + w, 1.0))]


# Typical wrong IoUs of two boxes (plain Python, as a learner writes them), for the exercises' mistakes.

def _sides(a, b):
    return min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1])


def _area(box):
    return (box[2] - box[0]) * (box[3] - box[1])


def _ratio(inter, union):
    return inter / union if union > 0 else 0.0


def iou_without_clamp(a, b):
    height, width = _sides(a, b)
    return _ratio(height * width, _area(a) + _area(b) - height * width)


def iou_clamping_the_product(a, b):
    height, width = _sides(a, b)
    inter = max(0.0, height * width)
    return _ratio(inter, _area(a) + _area(b) - inter)


def iou_read_as_x_pairs(a, b):
    """Boxes read as (xmin, xmax, ymin, ymax)."""
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[2], b[2]))
    return _ratio(inter, (a[1] - a[0]) * (a[3] - a[2]) + (b[1] - b[0]) * (b[3] - b[2]) - inter)


def iou_over_the_sum(a, b):
    height, width = _sides(a, b)
    inter = max(0.0, height) * max(0.0, width)
    return _ratio(inter, _area(a) + _area(b))


def iou_plus_one(a, b):
    """The pixel-count formula (+1 on every side), on normalized boxes."""
    height, width = _sides(a, b)
    inter = max(0.0, height + 1) * max(0.0, width + 1)
    area = lambda box: (box[2] - box[0] + 1) * (box[3] - box[1] + 1)
    return _ratio(inter, area(a) + area(b) - inter)


def _nan_for_zero_union(expected, got, case):
    return bool(np.isnan(np.asarray(got, np.float64)).any())


def _table(iou):
    """A one-pair IoU made a table of every pair, as a loop would."""
    return lambda boxes_a, boxes_b: [[iou(a, b) for b in boxes_b] for a in boxes_a]


def iou_mistakes(pairwise=False):
    """``(diagnose, message)`` pairs for an IoU exercise (``pairwise``: the (N, M) table version). The clamped
    product comes before the missing clamp: on boxes apart in both x and y the two give the same answer."""
    from camlab.exercises.core import gives

    wrap = _table if pairwise else (lambda fn: fn)
    return [
        (_nan_for_zero_union, "NaN where both boxes are empty: guard a zero union (the IoU is 0 there)."),
        (gives(wrap(iou_clamping_the_product)), "Boxes apart in both x and y give a positive overlap: clamp EACH "
                                                "side at 0, not their product (two negatives multiply to a "
                                                "positive)."),
        (gives(wrap(iou_without_clamp)), "Disjoint boxes give a non-zero IoU: clamp the intersection's height "
                                         "and width at 0 before multiplying them."),
        (gives(wrap(iou_read_as_x_pairs)), "Your boxes look read as (xmin, xmax, ymin, ymax): the order is "
                                           "[ymin, xmin, ymax, xmax]."),
        (gives(wrap(iou_over_the_sum)), "The union counts the overlap twice: union = area A + area B - "
                                        "intersection."),
        (gives(wrap(iou_plus_one)), "This is the pixel formula with +1 on each side: these boxes are normalized "
                                    "coordinates, no +1."),
    ]


def iou_cases(seed=0):
    """Pairs of boxes for IoU: the hand-made ones (each makes a typical mistake visible; hidden seeds move them
    without changing their IoU), then random pairs."""
    generator = rng(seed + 7)
    moved = Variants(rng(seed + 70), public=seed == 0).boxes
    near = random_box(generator)
    shifted = [near[0] + 0.05, near[1] + 0.05, near[2] + 0.05, near[3] + 0.05]
    return [
        Case(moved([0.1, 0.2, 0.6, 0.7], [0.1, 0.2, 0.6, 0.7]), label="two identical boxes"),
        Case(moved([0.0, 0.0, 1.0, 0.5], [0.0, 0.25, 1.0, 0.75]), label="two boxes overlapping by half their width"),
        Case(moved([0.2, 0.2, 0.6, 0.6], [0.0, 0.0, 1.0, 1.0]), label="a box inside another"),
        Case(moved([0.1, 0.2, 0.5, 0.9], [0.3, 0.1, 0.8, 0.6]), label="two boxes overlapping at a corner"),
        Case(moved([0.0, 0.0, 0.5, 0.4], [0.0, 0.6, 0.5, 1.0]), label="side by side, apart in x only"),
        Case(moved([0.0, 0.0, 0.2, 0.2], [0.5, 0.5, 0.9, 0.9]), label="apart in both x and y"),
        Case(moved([0.0, 0.0, 0.5, 0.5], [0.5, 0.0, 1.0, 0.5]), label="touching along an edge"),
        Case(moved([0.3, 0.3, 0.3, 0.3], [0.3, 0.3, 0.3, 0.3]), label="two identical zero-area boxes (a point)"),
        Case(moved([0.2, 0.4, 0.2, 0.8], [0.0, 0.0, 1.0, 1.0]), label="a zero-height box inside a box"),
        Case(moved(np.array([0.05, 0.1, 0.7, 0.55], np.float32), np.array([0.2, 0.3, 0.9, 0.95], np.float32)),
             label="float32 arrays, as TFDS gives them"),
        Case((near, shifted), label="a random box and the same box shifted by 0.05"),
        Case((random_box(generator), random_box(generator)), label="two random boxes"),
    ]


# ----------------------------------------------------------------------------------------------------------
# Grad-CAM, written the way a learner writes it, right or with one typical mistake switched on

def grad_cam_maps(activations, weights):
    """``ReLU(sum_k alpha_k A_k)`` per image, divided by that map's maximum (a map with no positive value is 0):
    (N, h, w, K) activations and (N, K) channel weights -> (N, h, w)."""
    activations = np.asarray(activations, np.float32)
    maps = np.maximum(np.einsum("nhwk,nk->nhw", activations, np.asarray(weights, np.float32)), 0.0)
    peaks = maps.max(axis=(1, 2), keepdims=True)
    return np.divide(maps, peaks, out=np.zeros_like(maps), where=peaks > 0)


def grad_cam_variant(score="logit", axes=(1, 2), relu=True, relu_gradients=False):
    """``(model, images, class_indices, layer_name) -> maps`` at the layer's resolution, from a tape: the defaults
    give Grad-CAM; ``score="softmax"`` differentiates the probability, ``axes`` averages the gradients over other
    axes of the 4-D tensor ((0, 1, 2): the batch too; (0, 1): the lesson's axes, one weight per column),
    ``relu=False`` leaves the negative evidence in (maps over their largest magnitude), ``relu_gradients`` puts
    the ReLU on the gradients."""
    def compute_grad_cam(model, images, class_indices, layer_name):
        import keras  # on first use: importing an exercises module does not load TensorFlow
        import tensorflow as tf

        dense = model.get_layer("predictions")
        probe = keras.Model(model.input, [model.get_layer(layer_name).output, model.get_layer("avg_pool").output])
        with tf.GradientTape() as tape:
            activations, pooled = probe(tf.convert_to_tensor(images, tf.float32))
            logits = pooled @ dense.kernel + dense.bias
            outputs = tf.nn.softmax(logits) if score == "softmax" else logits
            scores = tf.gather(outputs, np.asarray(class_indices), batch_dims=1)
        gradients = tape.gradient(scores, activations)
        if relu_gradients:
            gradients = tf.nn.relu(gradients)
        weights = tf.reduce_mean(gradients, axis=axes, keepdims=True)  # broadcasts back onto the activations
        if tuple(axes) in ((1, 2), (0, 1, 2)) and relu:
            channel = tf.broadcast_to(tf.reshape(weights, (-1, activations.shape[-1])),
                                      (activations.shape[0], activations.shape[-1]))
            return grad_cam_maps(activations.numpy(), channel.numpy())
        maps = tf.reduce_sum(activations * weights, axis=-1).numpy()
        if relu:
            maps = np.maximum(maps, 0.0)
            peaks = maps.max(axis=(1, 2), keepdims=True)
            return np.divide(maps, peaks, out=np.zeros_like(maps), where=peaks > 0)
        return maps / np.abs(maps).max(axis=(1, 2), keepdims=True)

    return compute_grad_cam


# ----------------------------------------------------------------------------------------------------------
# Tiny models with the course's layer names (built on first use; Keras is imported only then)

def tiny_grad_cam_model(seed):
    """A small, untrained model of the course's shape (three stages ``block1_out`` .. ``block3_out`` at 1/2, 1/4
    and 1/8 of a 32x32 input -> ``avg_pool`` -> softmax ``predictions``), every initializer seeded: the same
    weights on every machine, whatever ran before."""
    import keras

    inputs = keras.Input((32, 32, 3), name="image")
    x = inputs
    for stage, filters in enumerate((8, 12, 16), start=1):
        x = keras.layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu", name=f"block{stage}_out",
                                kernel_initializer=keras.initializers.HeNormal(seed=seed + stage),
                                bias_initializer=keras.initializers.RandomNormal(0.0, 0.05, seed=seed + 10 + stage))(x)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = keras.layers.Dense(5, activation="softmax", name="predictions",
                                 kernel_initializer=keras.initializers.GlorotNormal(seed=seed))(x)
    return keras.Model(inputs, outputs, name="tiny_grad_cam")


@functools.lru_cache(maxsize=1)
def tiny_cam_model(seed=8):
    """A 16x16 RGB classifier of 5 classes with fixed random weights (the same model in every process).

    Stages ``block1_out`` (8x8x6) and ``block2_out`` (4x4x8), then ``avg_pool`` (GAP) and the softmax Dense
    ``predictions``; the weights are drawn from NumPy's generator so the maps (with negative evidence, so a
    missing ReLU shows) are the same everywhere.
    """
    import keras

    inputs = keras.Input((16, 16, 3), name="image")
    x = keras.layers.Conv2D(6, 3, strides=2, padding="same", activation="relu", name="block1_out")(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="block2_out")(x)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = keras.layers.Dense(5, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs, outputs, name="tiny_cam_model")
    generator = rng(seed)
    model.set_weights([generator.normal(0.0, 1.0, w.shape).astype(np.float32) + (0.2 if w.ndim == 1 else 0.0)
                       for w in model.get_weights()])
    return model
