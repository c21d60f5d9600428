"""Exercise of notebook 02_model: find what a CAM needs in a model you have not seen.

- ``q1``: ``cam_parts(model)`` -> ``(feature_layer_name, kernel)``: the name of the layer whose output is the
  feature map that global average pooling reads, and the classifier's Dense kernel ``(K, C)`` that weighs its K
  channels.

The case models use none of the course's layer names (no ``avg_pool``, no ``predictions``) and differ in the ways
that break a lookup by position: a Dropout after the pooling, a nested backbone, a Sequential model, a feature map
that ends in an activation layer after its convolution. The reference is ``camlab.cam.find_feature_layer`` (the
learner's function must not call it) and the kernel of the model's last Dense layer.
"""
import functools

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


def _conv_stack(x, names, keras, tag=""):
    for i, name in enumerate(names):
        x = keras.layers.Conv2D(4 + 2 * i, 3, strides=2, padding="same", activation="relu", name=name + tag)(x)
    return x


def _plain(seed, tag=""):
    import keras

    inputs = keras.Input((16, 16, 3), name="pixels" + tag)
    x = _conv_stack(inputs, ["stem", "trunk_conv2"], keras, tag)
    x = keras.layers.GlobalAveragePooling2D(name="pool" + tag)(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="classifier" + tag)(x)
    return _weights(keras.Model(inputs, outputs, name="plain" + tag), seed)


def _dropout_head(seed, tag=""):
    import keras

    inputs = keras.Input((16, 16, 3), name="pixels" + tag)
    x = _conv_stack(inputs, ["c1", "c2", "last_conv"], keras, tag)
    x = keras.layers.GlobalAveragePooling2D(name="gap" + tag)(x)
    x = keras.layers.Dropout(0.3, name="drop" + tag)(x)
    outputs = keras.layers.Dense(4, activation="softmax", name="scores" + tag)(x)
    return _weights(keras.Model(inputs, outputs, name="dropout_head" + tag), seed)


def _nested(seed, tag=""):
    import keras

    inner_in = keras.Input((16, 16, 3), name="backbone_input" + tag)
    backbone = keras.Model(inner_in, _conv_stack(inner_in, ["b1", "b2_out"], keras, tag), name="backbone" + tag)
    inputs = keras.Input((16, 16, 3), name="pixels" + tag)
    x = keras.layers.GlobalAveragePooling2D(name="global_pool" + tag)(backbone(inputs))
    outputs = keras.layers.Dense(5, activation="softmax", name="head" + tag)(x)
    return _weights(keras.Model(inputs, outputs, name="nested" + tag), seed)


def _sequential(seed, tag=""):
    import keras

    model = keras.Sequential([keras.Input((16, 16, 3)),
                              keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu", name="s1" + tag),
                              keras.layers.Conv2D(6, 3, strides=2, padding="same", activation="relu", name="s2" + tag),
                              keras.layers.GlobalAveragePooling2D(name="s_pool" + tag),
                              keras.layers.Dense(2, activation="softmax", name="s_dense" + tag)],
                             name="sequential_cam" + tag)
    return _weights(model, seed)


def _activation_after_conv(seed, tag=""):
    import keras

    inputs = keras.Input((16, 16, 3), name="pixels" + tag)
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu", name="conv_a" + tag)(inputs)
    x = keras.layers.Conv2D(6, 3, strides=2, padding="same", name="conv_b" + tag)(x)
    x = keras.layers.BatchNormalization(name="conv_b_bn" + tag)(x)
    x = keras.layers.Activation("relu", name="features_relu" + tag)(x)
    x = keras.layers.GlobalAveragePooling2D(name="pooling" + tag)(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="logits_and_softmax" + tag)(x)
    return _weights(keras.Model(inputs, outputs, name="bn_relu" + tag), seed)


def _cases(seed=0):
    # Hidden seeds: other weights, and every layer name with a suffix, so that a lookup by the public names fails.
    tag = "" if seed == 0 else f"_{int(_rng(seed + 9).integers(10, 100))}"
    _plain_, _dropout_, _nested_, _sequential_, _after_ = (functools.partial(builder, tag=tag) for builder in (
        _plain, _dropout_head, _nested, _sequential, _activation_after_conv))
    return [
        Case((_plain_(seed),), label="a functional model: stem -> trunk_conv2 -> pool -> classifier"),
        Case((_dropout_(seed + 1),), label="a Dropout between the pooling and the Dense layer"),
        Case((_nested_(seed + 2),), label="the backbone nested as one layer (a Functional inside the model)"),
        Case((_sequential_(seed + 3),), label="a keras.Sequential model"),
        Case((_after_(seed + 4),),
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


# ----------------------------------------------------------------------------------------------------------
# Typical mistakes, told from the answer and the case's model (the judge builds the cases itself)

def _layers(model):
    """Every layer of ``model``, the layers of nested models included, in order."""
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _layers(layer)


def _named(got, case, kind):
    """The answer names a layer of ``case``'s model that is an instance of ``kind`` (a class name)."""
    name = got[0] if isinstance(got, (list, tuple)) and got else None
    return any(layer.name == name and kind in [c.__name__ for c in type(layer).__mro__]
               for layer in _layers(case.args[0]))


def _by_position(expected, got, case):
    model = case.args[0]
    # the lesson's layer picking: the feature map found by position, model.layers[-3]
    return got[0] != expected[0] and len(model.layers) >= 3 and got[0] == model.layers[-3].name


def _conv_before_the_feature_map(expected, got, case):
    return got[0] != expected[0] and _named(got, case, "Conv2D") and not _named(list(expected), case, "Conv2D")


def _bias(expected, got, case):
    import keras

    dense = [layer for layer in case.args[0].layers if isinstance(layer, keras.layers.Dense)][-1]
    return np.shape(got[1]) == tuple(dense.bias.shape) and np.allclose(got[1], np.asarray(dense.bias))


_CAM_PARTS_MISTAKES = [
    (lambda expected, got, case: got[0] != expected[0] and _named(got, case, "Functional"),
     "That is the nested backbone as a whole: a CAM needs one layer's feature map, the one the backbone ends "
     "with; look inside it (its .layers)."),
    (_by_position, "A layer picked by its position (like the lesson's model.layers[-3]) breaks when the head has "
                   "another layer (a Dropout here): walk back from the GlobalAveragePooling2D instead."),
    (lambda expected, got, case: got[0] != expected[0] and _named(got, case, "GlobalAveragePooling2D"),
     "That is the pooling layer itself: the feature map is what the pooling READS, the output of the layer "
     "before it."),
    (_conv_before_the_feature_map,
     "That convolution is not the last step before the pooling (a BatchNormalization and an Activation follow "
     "it): the feature map is the output the pooling reads, whatever layer type produces it."),
    (_bias, "That is the Dense layer's bias (C,): the weights of the channels are its kernel, (K, C)."),
]


q1 = Exercise(
    name="What a CAM needs",
    func_name="cam_parts",
    cases=_cases,
    reference=_cam_parts,
    hint=["A CAM needs two things: the feature map that global average pooling reads (the last thing the "
          "convolutional part produces, whatever the layer type), and the classifier's weights, one per channel "
          "and class. Find them by what the layers ARE and how they connect, walking back from the output, not "
          "by their names or positions: heads can hold extra layers, and a backbone can be one nested layer.",
          "isinstance(layer, keras.layers.Dense) / keras.layers.GlobalAveragePooling2D; a Dense layer's .kernel "
          "is (K, C); model.summary() shows the chain; a nested model has its own .layers."],
    mistakes=_CAM_PARTS_MISTAKES,
    notebook=NOTEBOOK,
    compare=_compare,
    forbidden=[_cam_parts, "camlab.cam.find_feature_layer"],
    description=("Write `cam_parts(model)`: for a CAM model you have not seen, return (the name of the layer whose "
                 "output is the feature map, the classifier's Dense kernel (K, C) as an array)."),
)

EXERCISES = [q1]
