"""CAM-ready classifiers: input RGB [0, 1] -> [preprocessing] -> backbone -> feature map -> GAP -> softmax Dense.

CAM (Zhou et al., CVPR 2016) needs exactly this head: with ``avg_pool`` = mean over positions of the feature
map A and ``predictions`` = softmax(W . avg_pool + b), the class-c score is a weighted sum of the feature map,
so ``CAM_c(x, y) = sum_k W[k, c] * A_k(x, y)`` shows where the evidence for class c sits.

Two backbones:

- ``"tiny"``: a small CNN sized for a CPU; its stages end in layers named ``block1_out`` (1/2 of the input),
  ``block2_out`` (1/4) and ``block3_out`` (1/8, the CAM feature map).
- ``"resnet50"``: Keras's ResNet50, built flat on the preprocessed input, so the lesson's layer names
  (``conv3_block4_out``, ``conv4_block6_out``, ``conv5_block3_out``) are reachable with ``model.get_layer``.
"""
import json
import numbers
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pathlib import Path  # noqa: E402

import keras  # noqa: E402
from keras import layers  # noqa: E402

from camlab import paths  # noqa: E402

BACKBONES = ("tiny", "resnet50")
DEFAULT_INPUT_SHAPE = {"tiny": (96, 96, 3), "resnet50": (224, 224, 3)}
PRETRAINED_NAME = "camlab_cars_tiny"
# The shipped models: name -> file stem under data/models (a .keras model and its .json card), and the
# camlab_cars config each was trained on. "emblem": the class lives only in the emblem (part domination).
PRETRAINED = {"default": PRETRAINED_NAME, "emblem": "camlab_cars_emblem_tiny"}
PRETRAINED_DATASETS = {"default": "camlab_cars", "emblem": "camlab_cars/emblem"}


@keras.saving.register_keras_serializable(package="camlab")
class ImageNetCaffePreprocess(layers.Layer):
    """RGB in [0, 1] -> what Keras's ImageNet ResNet50 expects ("caffe" mode).

    out = BGR(x * 255) - (103.939, 116.779, 123.68)     (the ImageNet channel means, in BGR order)
    """

    MEAN_BGR = (103.939, 116.779, 123.68)

    def call(self, inputs):
        bgr = keras.ops.flip(inputs, axis=-1) * 255.0
        return bgr - keras.ops.convert_to_tensor(self.MEAN_BGR, dtype=bgr.dtype)


def _conv(x, filters, name, strides=1, kernel_size=3):
    """Convolution (3x3 by default) -> batch norm -> ReLU, named ``name`` (the ReLU), ``name_conv``, ``name_bn``.

    Batch norm's running averages use momentum 0.9 (Keras: 0.99) so they settle within a short CPU run.
    """
    x = layers.Conv2D(filters, kernel_size, strides=strides, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
    return layers.ReLU(name=name)(x)


def tiny_backbone(inputs, widths=(16, 32, 64, 96)):
    """A CPU-sized CNN: three stages, each halving the resolution; returns the 1/8-resolution feature map.

    block1: conv(w1) -> maxpool                              -> block1_out  (1/2)
    block2: conv(w2) -> maxpool                              -> block2_out  (1/4)
    block3: conv(w3) -> maxpool -> conv(w4) -> conv1x1(w4)   -> block3_out  (1/8, the CAM feature map)

    The last convolution is 1x1 so it does not widen the map: CAM boxes stay tight around the object.
    """
    w1, w2, w3, w4 = widths
    x = _conv(inputs, w1, "block1_conv1")
    x = layers.MaxPooling2D(2, name="block1_out")(x)
    x = _conv(x, w2, "block2_conv1")
    x = layers.MaxPooling2D(2, name="block2_out")(x)
    x = _conv(x, w3, "block3_conv1")
    x = layers.MaxPooling2D(2, name="block3_pool")(x)
    x = _conv(x, w4, "block3_conv2")
    return _conv(x, w4, "block3_out", kernel_size=1)


def _check_args(num_classes, backbone):
    if backbone not in BACKBONES:
        raise ValueError(f"Unknown backbone {backbone!r}: use one of {', '.join(map(repr, BACKBONES))}.")
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < 2:
        raise ValueError(f"num_classes must be an int >= 2 (a softmax over one class is always 1), "
                         f"got {num_classes!r}.")


def build_cam_model(num_classes, backbone="tiny", weights=None, input_shape=None):
    """A functional CAM model: RGB [0, 1] -> backbone -> feature map -> ``avg_pool`` -> ``predictions``.

    weights: None (random), "imagenet" (resnet50 only; downloads Keras's ImageNet weights for the backbone)
    or a path to a ``.keras`` / ``.weights.h5`` file of the same architecture (loaded into the whole model).
    input_shape: default (96, 96, 3) for tiny, (224, 224, 3) for resnet50.
    """
    _check_args(num_classes, backbone)
    num_classes = int(num_classes)
    input_shape = tuple(input_shape or DEFAULT_INPUT_SHAPE[backbone])
    weight_file = None
    if weights not in (None, "imagenet"):
        weight_file = Path(weights).expanduser()
        if not weight_file.is_file():
            raise FileNotFoundError(f"weights file {weight_file} not found; pass None, 'imagenet' or a path to "
                                    f"a .keras / .weights.h5 file.")
    if weights == "imagenet" and backbone != "resnet50":
        raise ValueError("weights='imagenet' exists only for backbone='resnet50'; the tiny backbone trains from "
                         "scratch (weights=None) or loads a file you trained.")

    inputs = keras.Input(shape=input_shape, name="image")
    if backbone == "tiny":
        features = tiny_backbone(inputs)
    else:
        x = ImageNetCaffePreprocess(name="imagenet_preprocess")(inputs)
        resnet = keras.applications.ResNet50(include_top=False, input_tensor=x,
                                             weights="imagenet" if weights == "imagenet" else None)
        features = resnet.output  # conv5_block3_out; input_tensor makes its layers part of this flat graph
    x = layers.GlobalAveragePooling2D(name="avg_pool")(features)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs, outputs, name=f"cam_{backbone}")

    if weight_file is not None:
        if weight_file.name.endswith(".weights.h5"):
            model.load_weights(weight_file)
        else:
            model.set_weights(keras.saving.load_model(weight_file, compile=False, safe_mode=True).get_weights())
    return model


# ----------------------------------------------------------------------------------------------------------
# The shipped default model
# ----------------------------------------------------------------------------------------------------------

def _stem(name):
    key = "default" if name is None else name
    if key not in PRETRAINED:
        raise ValueError(f"No shipped model {name!r}: use one of {', '.join(map(repr, PRETRAINED))} "
                         f"(None is 'default').")
    return PRETRAINED[key]


def _train_command(name):
    return "python -m camlab train" + ("" if name in (None, "default") else f" --config {name}")


def pretrained_path(name=None):
    """The ``.keras`` file of shipped model ``name`` (None: the default; "emblem": the emblem config's)."""
    return paths.models_dir() / f"{_stem(name)}.keras"


def card_path(name=None):
    return paths.models_dir() / f"{_stem(name)}.json"


def model_card(name=None):
    """A shipped model's card (dataset, training command, seed, epochs, accuracies, time, machine).

    ``name``: None or "default" (the default model), "emblem" (trained on ``camlab_cars/emblem``).
    """
    path = card_path(name)
    if not path.is_file():
        raise FileNotFoundError(f"No model card at {path}. Train and write one with `{_train_command(name)}`.")
    return json.loads(path.read_text())


def load_pretrained(name=None):
    """A shipped model, loaded in safe mode, not compiled.

    ``name``: None or "default" (``data/models/camlab_cars_tiny.keras``, trained on ``camlab_cars``);
    "emblem" (``camlab_cars_emblem_tiny.keras``, trained on ``camlab_cars/emblem``, where only the emblem
    carries the class).
    """
    path = pretrained_path(name)
    if not path.is_file():
        raise FileNotFoundError(f"No shipped model at {path}. Train one with `{_train_command(name)}` "
                                f"(a few minutes on a CPU).")
    return keras.saving.load_model(path, compile=False, safe_mode=True)
