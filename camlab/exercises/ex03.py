"""Exercise of notebook 03_training: the input an ImageNet ResNet50 expects (the fix for the lesson's ``/255`` bug).

- ``q1``: ``resnet50_input(images)`` - RGB floats in [0, 1], shape (..., H, W, 3) -> "caffe" preprocessing:
  back to [0, 255], channels reversed to BGR, the ImageNet mean ``(103.939, 116.779, 123.68)`` (B, G, R)
  subtracted; a new float32 array, the input left untouched.

The reference is that formula in NumPy; the tests check it against ``keras.applications.resnet50.preprocess_input``
(which the learner may use) and camlab's ``imagenet_preprocess`` layer.
"""
import numpy as np

from camlab.exercises.core import Case, Exercise, close, gives
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


_MEAN = np.asarray(IMAGENET_MEAN_BGR)


def _bgr(images):
    return np.asarray(images, np.float64)[..., ::-1]


_INPUT_MISTAKES = [
    (gives(lambda images: _bgr(images) - _MEAN, close(atol=1e-3)),
     "Your values look like the [0, 1] image minus the mean: the mean is in [0, 255] units, so multiply by 255 "
     "first (the lesson's /255 bug)."),
    (gives(lambda images: np.asarray(images, np.float64) * 255.0 - _MEAN, close(atol=1e-3)),
     "The channels look left in RGB order: reverse the last axis (RGB -> BGR) before subtracting the BGR mean."),
    (gives(lambda images: _bgr(images) * 255.0 - _MEAN[::-1], close(atol=1e-3)),
     "The mean looks subtracted in RGB order (123.68 from the first channel): after the flip the first "
     "channel is blue, so its mean is 103.939."),
    (gives(lambda images: _bgr(images) * 255.0, close(atol=1e-3)),
     "The mean is not subtracted: subtract (103.939, 116.779, 123.68) from the BGR channels."),
    (gives(lambda images: np.asarray(images, np.float64) * 2.0 - 1.0, close(atol=1e-3)),
     "This is the 'tf' preprocessing ([-1, 1], used by MobileNet and EfficientNet): ResNet50's ImageNet "
     "weights want the 'caffe' one: [0, 255], BGR, minus the mean."),
    (lambda expected, got, case: np.shape(got) == np.shape(expected) and np.abs(np.asarray(got, np.float64)).max() < 5,
     "Your values stay within a few units of 0 (a scaling by a standard deviation, or no * 255?): the caffe "
     "input is in [0, 255] minus the mean, from about -124 to 151."),
]


q1 = Exercise(
    name="ResNet50's input",
    func_name="resnet50_input",
    cases=_cases,
    reference=_resnet50_input,
    hint=["An ImageNet ResNet50 saw images the way Caffe stored them: pixel values in [0, 255], channels in "
          "BGR order, each channel centred by subtracting its mean over ImageNet (no division). Undo what the "
          "[0, 1] scaling did, then match the order and the centring; work on a new array, not on `images`.",
          "Slicing with ::-1 on the last axis reverses the channels; broadcasting subtracts a (3,) mean from "
          "(..., 3); keras.applications.resnet50.preprocess_input does the flip and the mean on [0, 255] input."],
    mistakes=_INPUT_MISTAKES,
    notebook=NOTEBOOK,
    compare=close(atol=1e-3),
    description=("Write `resnet50_input(images)`: RGB floats in [0, 1] (..., H, W, 3) -> what an ImageNet ResNet50 "
                 "was trained on: [0, 255], BGR, minus the ImageNet mean (103.939, 116.779, 123.68) per BGR "
                 "channel. Return a new array; leave `images` unchanged."),
)

EXERCISES = [q1]
