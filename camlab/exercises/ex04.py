"""Exercises of notebook 04_cam: a class activation map from a feature map and the Dense weights.

- ``q1``: ``cam_from_features(features, weights, class_index)`` - one image: features ``A`` (h, w, K), the
  Dense kernel ``W`` (K, C) -> ``M_c = ReLU(sum_k W[k, c] A_k) / max`` (h, w) in [0, 1]; an all-zero map stays 0.
- ``q2``: ``cam_batch(features, weights, class_indices)`` - the same for a batch (N, h, w, K), one class per
  image, each map divided by its own maximum.
- ``q3``: ``upsample_cam(cam, height, width)`` - bilinear resize of a map to the image's (height, width).

The references are the formulas of ``camlab.cam``'s engine (``_combine`` with CAM's weights, then its bilinear
resize), written with NumPy and OpenCV on plain arrays; the tests check them against the engine on a real model.
"""
import cv2
import numpy as np

from camlab.exercises.core import Case, Exercise, close, gives
from camlab.exercises.fixtures import BATCH_MISTAKES, MAP_MISTAKES, rng as _rng

NOTEBOOK = "04_cam"


# ----------------------------------------------------------------------------------------------------------
# References

def _cam_from_features(features, weights, class_index):
    """``M_c(x, y) = ReLU(sum_k W[k, c] A_k(x, y))``, divided by its maximum (a map with no positive value is 0)."""
    features = np.asarray(features, np.float32)
    weights = np.asarray(weights, np.float32)
    cam = np.maximum(features @ weights[:, class_index], 0.0)
    peak = cam.max()
    return cam / peak if peak > 0 else np.zeros_like(cam)


def _cam_batch(features, weights, class_indices):
    """Per image n: ``ReLU(sum_k W[k, c_n] A_nk) / max`` -> (N, h, w); each map has its own maximum."""
    features = np.asarray(features, np.float32)
    columns = np.asarray(weights, np.float32)[:, np.asarray(class_indices)].T  # (N, K): one column per image
    cams = np.maximum(np.einsum("nhwk,nk->nhw", features, columns), 0.0)
    peaks = cams.max(axis=(1, 2), keepdims=True)
    return np.divide(cams, peaks, out=np.zeros_like(cams), where=peaks > 0)


def _upsample_cam(cam, height, width):
    """Bilinear resize to (height, width). OpenCV's size argument is (width, height)."""
    return cv2.resize(np.asarray(cam, np.float32), (width, height), interpolation=cv2.INTER_LINEAR)


# ----------------------------------------------------------------------------------------------------------
# Cases: each one makes a typical mistake visible.

def _mixed_features(seed, shape=(5, 7, 6), classes=4):
    """Non-negative features (they come out of a ReLU) and weights of both signs: the map has negative parts."""
    rng = _rng(seed)
    features = np.maximum(rng.normal(0.3, 1.0, shape), 0.0).astype(np.float32)
    weights = rng.normal(0.0, 1.0, (shape[-1], classes)).astype(np.float32)
    return features, weights


def _q1_cases(seed=0):
    f, w = _mixed_features(seed)
    positive_f = _rng(seed + 1).uniform(0.5, 1.0, (4, 4, 3)).astype(np.float32)
    positive_w = _rng(seed + 2).uniform(0.1, 1.0, (3, 5)).astype(np.float32)
    negative_w = -np.abs(_rng(seed + 3).normal(1.0, 0.2, (6, 4))).astype(np.float32)
    negative_w[:, 2] = np.abs(negative_w[:, 2])
    return [
        Case((f, w, 1), label="a 5x7 map with K=6 channels, C=4 classes, class 1"),
        Case((f, w, 3), label="the same features, class 3 (a different column of the weights)"),
        Case((positive_f, positive_w, 4),
             label="all features and weights positive (the map's minimum is above 0)"),
        Case((f, negative_w, 0), label="every weight of class 0 negative (no positive evidence at all)"),
        Case((np.zeros((3, 5, 6), np.float32), w, 2), label="an all-zero feature map"),
        Case((f[:1, :1], w, 0), label="a 1x1 feature map"),
    ]


def _q2_cases(seed=4):
    f, w = _mixed_features(seed, shape=(3, 4, 5, 6), classes=4)
    f[1] *= 10.0  # image 1's map is ten times larger: one maximum for the whole batch would flatten the others
    single_f, single_w = _mixed_features(seed + 1, shape=(1, 6, 6, 8), classes=3)
    with_zero = f.copy()
    with_zero[2] = 0.0
    positive_f = _rng(seed + 2).uniform(0.5, 1.0, (2, 3, 3, 4)).astype(np.float32)
    positive_w = _rng(seed + 3).uniform(0.1, 1.0, (4, 3)).astype(np.float32)
    return [
        Case((f, w, np.array([0, 1, 3])), label="3 images, one class each (0, 1, 3), image 1 ten times brighter"),
        Case((f, w, np.array([2, 2, 2])), label="3 images, all for class 2"),
        Case((single_f, single_w, np.array([1])), label="a batch of one image"),
        Case((with_zero, w, np.array([3, 0, 1])), label="3 images, the last one all zeros"),
        Case((positive_f, positive_w, [2, 0]),
             label="2 images, features and weights all positive (the maps' minimum is above 0), classes as a list"),
    ]


def _q3_cases(seed=6):
    rng = _rng(seed)
    ramp = np.outer(np.linspace(0, 1, 4), np.linspace(1, 0.5, 6)).astype(np.float32)
    return [
        Case((ramp, 20, 30), label="a 4x6 map to height=20, width=30"),
        Case((rng.uniform(0, 1, (7, 7)).astype(np.float32), 112, 150),
             label="a 7x7 map to height=112, width=150 (not square: height and width must not be swapped)"),
        Case((rng.uniform(0, 1, (12, 12)).astype(np.float32), 96, 96), label="a 12x12 map to 96x96"),
        Case((np.zeros((3, 3), np.float32), 9, 5), label="an all-zero 3x3 map to height=9, width=5"),
    ]


# ----------------------------------------------------------------------------------------------------------
# Typical mistakes, told from the answers (expected vs got): the Incorrect verdict names them.

def _abs_cam(features, weights, class_index):
    cam = np.abs(np.asarray(features, np.float64) @ np.asarray(weights, np.float64)[:, class_index])
    return cam / cam.max() if cam.max() > 0 else cam


def _one_class_for_all(features, weights, class_indices):
    """Every image's map for the first image's class."""
    return _cam_batch(features, weights, [np.asarray(class_indices)[0]] * len(features))


_ABS = ("Your map keeps the negative evidence as positive (np.abs?): the ReLU, np.maximum(cam, 0), sets it to "
        "0.")
_Q1_MISTAKES = [*MAP_MISTAKES, (gives(_abs_cam), _ABS)]
_Q2_MISTAKES = [(gives(_one_class_for_all), "Every map looks computed for the first image's class: image n "
                                            "needs the column of ITS class, class_indices[n]."), *BATCH_MISTAKES]


def _upsample_mistakes():
    """Wrong resizes of ``upsample_cam``: as functions of the case's inputs."""
    resize = lambda method: (lambda cam, height, width: cv2.resize(np.asarray(cam, np.float32), (width, height),
                                                                    interpolation=method))
    return [
        (gives(resize(cv2.INTER_NEAREST)), "This looks like nearest-neighbour resizing: the task asks for bilinear "
                                           "(cv2.INTER_LINEAR)."),
        (gives(resize(cv2.INTER_CUBIC)), "This looks like bicubic resizing: the task asks for bilinear."),
        (gives(resize(cv2.INTER_AREA)), "This looks like area resizing (cv2.INTER_AREA): the task asks for bilinear."),
        (gives(resize(cv2.INTER_LANCZOS4)), "This looks like Lanczos resizing: the task asks for bilinear."),
        (lambda expected, got, case: np.shape(got) == np.shape(expected)[::-1] and np.shape(got)[0] != np.shape(got)[1],
         "Height and width look swapped: OpenCV's size argument is (width, height)."),
    ]


q1 = Exercise(
    name="CAM of one image",
    func_name="cam_from_features",
    cases=_q1_cases,
    reference=_cam_from_features,
    hint=["The class's map is a weighted sum of the K channels, one weight per channel, taken from the Dense "
          "kernel's column of that class. Keep only the positive evidence, then scale so that the peak is 1 - "
          "but a map with nothing positive must stay 0.",
          "Slicing a 2-D array by column, the @ operator (or np.tensordot, np.einsum) for the weighted sum "
          "over the channel axis, np.maximum for the ReLU, ndarray.max for the peak."],
    mistakes=_Q1_MISTAKES,
    notebook=NOTEBOOK,
    compare=close(atol=1e-5),
    description=("Write `cam_from_features(features, weights, class_index)`: features (h, w, K), weights (K, C) "
                 "-> ReLU(sum_k weights[k, class_index] * features[..., k]) divided by its maximum; (h, w) in "
                 "[0, 1], all zeros when nothing is positive."),
)

q2 = Exercise(
    name="CAM of a batch",
    func_name="cam_batch",
    cases=_q2_cases,
    reference=_cam_batch,
    hint=["The same as q1, once per image: every image has its own class, so its own column of weights, and its "
          "own maximum (a bright image must not dim the others).",
          "Indexing the kernel with the class list picks all the columns at once; np.einsum (or a loop over "
          "the batch) weighs each image's channels; reductions take axis=(1, 2) and keepdims=True; "
          "np.divide has a where= argument."],
    mistakes=_Q2_MISTAKES,
    notebook=NOTEBOOK,
    compare=close(atol=1e-5),
    description=("Write `cam_batch(features, weights, class_indices)`: features (N, h, w, K), weights (K, C), "
                 "class_indices (N,) -> (N, h, w), each map ReLU'd and divided by its own maximum."),
)

q3 = Exercise(
    name="CAM at the image's size",
    func_name="upsample_cam",
    cases=_q3_cases,
    reference=_upsample_cam,
    hint=["Bilinear interpolation: each new pixel mixes its four nearest map cells. Watch the order of the two "
          "sizes: NumPy shapes are (rows, columns) = (height, width), and not every library agrees.",
          "cv2.resize takes its size as (width, height) and an interpolation= flag (cv2.INTER_LINEAR); "
          "tf.image.resize wants a channel axis and (height, width)."],
    mistakes=_upsample_mistakes(),
    notebook=NOTEBOOK,
    compare=close(atol=1e-4),
    description="Write `upsample_cam(cam, height, width)`: bilinear resize of an (h, w) map to (height, width).",
)

EXERCISES = [q1, q2, q3]
