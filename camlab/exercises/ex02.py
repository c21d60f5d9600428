"""Exercise of notebook 02_model: find what a CAM needs in a model you have not seen.

- ``q1``: ``cam_parts(model)`` -> ``(feature_layer_name, kernel)``: the name of the layer whose output is the
  feature map that global average pooling reads, and the classifier's Dense kernel ``(K, C)`` that weighs its K
  channels.

The case models use none of the course's layer names (no ``avg_pool``, no ``predictions``) and differ in the ways
that break a lookup by position: a Dropout after the pooling, a nested backbone, a Sequential model, a feature map
that ends in an activation layer after its convolution. The reference is ``camlab.cam.find_feature_layer`` (the
learner's function must not call it) and the kernel of the model's last Dense layer.
"""
import numpy as np

from camlab.exercises.core import Case, Exercise, close, short_repr
from camlab.exercises.fixtures import rng as _rng

NOTEBOOK = "02_model"


# ----------------------------------------------------------------------------------------------------------
# Reference

def _cam_parts(model):
    """(name of the feature-map layer GAP reads: ``camlab.cam.find_feature_layer``, which looks inside a nested
    backbone; the last Dense layer's kernel as an array)."""
    import keras

    from camlab.cam import find_feature_layer

    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)][-1]
    return find_feature_layer(model, for_cam=True).name, np.asarray(dense.kernel)


# ----------------------------------------------------------------------------------------------------------
# Case models: small, fixed random weights, unfamiliar names

def _weights(model, seed):
    generator = _rng(seed)
    model.set_weights([generator.normal(0.0, 0.5, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def _conv_stack(x, names, keras):
    for i, name in enumerate(names):
        x = keras.layers.Conv2D(4 + 2 * i, 3, strides=2, padding="same", activation="relu", name=name)(x)
    return x


def _plain(seed):
    import keras

    inputs = keras.Input((16, 16, 3), name="pixels")
    x = _conv_stack(inputs, ["stem", "trunk_conv2"], keras)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="classifier")(x)
    return _weights(keras.Model(inputs, outputs, name="plain"), seed)


def _dropout_head(seed):
    import keras

    inputs = keras.Input((16, 16, 3), name="pixels")
    x = _conv_stack(inputs, ["c1", "c2", "last_conv"], keras)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    x = keras.layers.Dropout(0.3, name="drop")(x)
    outputs = keras.layers.Dense(4, activation="softmax", name="scores")(x)
    return _weights(keras.Model(inputs, outputs, name="dropout_head"), seed)


def _nested(seed):
    import keras

    inner_in = keras.Input((16, 16, 3), name="backbone_input")
    backbone = keras.Model(inner_in, _conv_stack(inner_in, ["b1", "b2_out"], keras), name="backbone")
    inputs = keras.Input((16, 16, 3), name="pixels")
    x = keras.layers.GlobalAveragePooling2D(name="global_pool")(backbone(inputs))
    outputs = keras.layers.Dense(5, activation="softmax", name="head")(x)
    return _weights(keras.Model(inputs, outputs, name="nested"), seed)


def _sequential(seed):
    import keras

    model = keras.Sequential([keras.Input((16, 16, 3)),
                              keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu", name="s1"),
                              keras.layers.Conv2D(6, 3, strides=2, padding="same", activation="relu", name="s2"),
                              keras.layers.GlobalAveragePooling2D(name="s_pool"),
                              keras.layers.Dense(2, activation="softmax", name="s_dense")], name="sequential_cam")
    return _weights(model, seed)


def _activation_after_conv(seed):
    import keras

    inputs = keras.Input((16, 16, 3), name="pixels")
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu", name="conv_a")(inputs)
    x = keras.layers.Conv2D(6, 3, strides=2, padding="same", name="conv_b")(x)
    x = keras.layers.BatchNormalization(name="conv_b_bn")(x)
    x = keras.layers.Activation("relu", name="features_relu")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pooling")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="logits_and_softmax")(x)
    return _weights(keras.Model(inputs, outputs, name="bn_relu"), seed)


def _cases(seed=0):
    return [
        Case((_plain(seed),), label="a functional model: stem -> trunk_conv2 -> pool -> classifier"),
        Case((_dropout_head(seed + 1),), label="a Dropout between the pooling and the Dense layer"),
        Case((_nested(seed + 2),), label="the backbone nested as one layer (a Functional inside the model)"),
        Case((_sequential(seed + 3),), label="a keras.Sequential model"),
        Case((_activation_after_conv(seed + 4),),
             label="the last convolution followed by BatchNormalization and an Activation layer"),
    ]


def _compare(expected, got):
    """The name must match exactly, the kernel to float precision."""
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return (f"expected a pair (feature_layer_name, kernel), got {type(got).__name__} {short_repr(got)}")
    name, kernel = got
    if not isinstance(name, str):
        return (f"the first item should be the layer's name (a str), got {type(name).__name__} {short_repr(name)}"
                f" - use layer.name")
    if name != expected[0]:
        return f"expected the feature map of layer {expected[0]!r}, got {name!r}"
    difference = close(atol=1e-6)(expected[1], kernel)
    if difference and np.shape(kernel) == np.shape(expected[1])[::-1]:
        return f"the kernel looks transposed: expected shape (K, C) = {np.shape(expected[1])}, got {np.shape(kernel)}"
    return f"the kernel: {difference}" if difference else None


q1 = Exercise(
    name="What a CAM needs",
    func_name="cam_parts",
    cases=_cases,
    reference=_cam_parts,
    hint=("Start from the output and walk back, by layer type, not by name or position: the classifier is the last "
          "keras.layers.Dense (its weights: layer.kernel, shape (K, C)); its input came from the "
          "GlobalAveragePooling2D, maybe through a Dropout; the layer whose output the pooling reads is the feature "
          "map. model.summary() shows the chain. A nested backbone is one layer: look inside it "
          "(model.get_layer(name).layers) for the layer that produces its output."),
    notebook=NOTEBOOK,
    compare=_compare,
    forbidden=[_cam_parts, "camlab.cam.find_feature_layer"],
    description=("Write `cam_parts(model)`: for a CAM model you have not seen, return (the name of the layer whose "
                 "output is the feature map, the classifier's Dense kernel (K, C) as an array)."),
)

EXERCISES = [q1]
