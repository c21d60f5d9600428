"""Exercise of notebook 03_training: the input an ImageNet ResNet50 expects (the fix for the lesson's ``/255`` bug).

- ``q1``: ``resnet50_input(images)`` - RGB floats in [0, 1], shape (..., H, W, 3) -> "caffe" preprocessing:
  back to [0, 255], channels reversed to BGR, the ImageNet mean ``(103.939, 116.779, 123.68)`` (B, G, R)
  subtracted; a new float32 array, the input left untouched.

The reference is that formula in NumPy; the tests check it against ``keras.applications.resnet50.preprocess_input``
(which the learner may use) and camlab's ``imagenet_preprocess`` layer.
"""
import numpy as np

from camlab.exercises.core import Case, Exercise, close
from camlab.exercises.fixtures import rng as _rng

NOTEBOOK = "03_training"

IMAGENET_MEAN_BGR = (103.939, 116.779, 123.68)


def _resnet50_input(images):
    """``x_bgr * 255 - mean_bgr`` with ``x_bgr = images[..., ::-1]``."""
    images = np.asarray(images, np.float32)
    return images[..., ::-1] * 255.0 - np.asarray(IMAGENET_MEAN_BGR, np.float32)


def _cases(seed=0):
    generator = _rng(seed)
    red = np.zeros((4, 6, 3), np.float32)
    red[..., 0] = 1.0  # pure red: reversing the channels moves it to the last one
    return [
        Case((red,), label="one pure red 4x6 image (RGB: channel 0 is 1, the others 0)"),
        Case((generator.uniform(0, 1, (2, 5, 7, 3)).astype(np.float32),), label="a batch of 2 random 5x7 images"),
        Case((np.ones((3, 3, 3), np.float32),), label="an all-white 3x3 image (1.0 everywhere)"),
        Case((np.zeros((1, 2, 2, 3), np.float32),), label="a batch of one black 2x2 image"),
        Case((generator.uniform(0, 1, (8, 4, 3)),), label="a float64 8x4 image (not square)"),
    ]


q1 = Exercise(
    name="ResNet50's input",
    func_name="resnet50_input",
    cases=_cases,
    reference=_resnet50_input,
    hint=("Three steps, in any order that gives the same numbers: undo the /255, reverse the last axis "
          "(RGB -> BGR), subtract the mean of each BGR channel. Work on a new array: x = images * 255.0 is one. "
          "keras.applications.resnet50.preprocess_input does the last two steps on [0, 255] input."),
    notebook=NOTEBOOK,
    compare=close(atol=1e-3),
    description=("Write `resnet50_input(images)`: RGB floats in [0, 1] (..., H, W, 3) -> what an ImageNet ResNet50 "
                 "was trained on: [0, 255], BGR, minus the ImageNet mean (103.939, 116.779, 123.68) per BGR "
                 "channel. Return a new array; leave `images` unchanged."),
)

EXERCISES = [q1]
