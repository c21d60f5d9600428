"""The checker of notebook 02 (what a CAM needs) accepts a search by type and connection, and rejects the lesson's
``layers[-3]``, lookups by the course's names, the pooling or the backbone named as the feature map, the last
Conv2D before a BatchNormalization + activation, and a transposed or wrong kernel."""
import keras
import numpy as np
import pytest

from camlab.exercises import ex02
from exercise_helpers import check_reference_and_solution, check_stub_not_attempted, status


def test_module_lists_its_exercise():
    assert ex02.EXERCISES == [ex02.q1] and ex02.q1.func_name == "cam_parts"


def test_shown_solution_is_correct():
    check_reference_and_solution(ex02.q1, keras=keras)


def test_an_untouched_stub_is_not_attempted():
    check_stub_not_attempted(ex02.q1)


def test_expected_answers_are_the_layers_that_feed_the_pooling():
    expected = [case.expected.value for case in ex02.q1.cases]
    assert [name for name, _ in expected] == ["trunk_conv2", "last_conv", "b2_out", "s2", "features_relu"]
    assert [kernel.shape for _, kernel in expected] == [(6, 3), (8, 4), (6, 5), (6, 2), (6, 3)]
    for case, (name, kernel) in zip(ex02.q1.cases, expected):  # the kernel is the classifier's, channel by class
        model = case.args[0]
        assert model.layers[-1].kernel.shape == kernel.shape
        np.testing.assert_array_equal(np.asarray(model.layers[-1].kernel), kernel)
    names = {layer.name for case in ex02.q1.cases for layer in case.args[0].layers}
    assert not names & {"avg_pool", "predictions"}  # the course's names would make it a lookup


def test_hidden_cases_are_other_weights_and_other_names_of_the_same_shapes():
    hidden = ex02.q1.hidden_cases(3)
    suffix = hidden[0].expected.value[0][len("trunk_conv2"):]
    assert suffix.startswith("_") and suffix[1:].isdigit()
    assert [c.expected.value[0] for c in hidden] == [c.expected.value[0] + suffix for c in ex02.q1.cases]
    assert not np.allclose(hidden[0].expected.value[1], ex02.q1.cases[0].expected.value[1])


def test_a_lookup_by_the_public_layer_names_fails_the_hidden_cases():
    from camlab.exercises.core import run_cases

    answers = {tuple(layer.name for layer in c.args[0].layers): c.expected.value[0] for c in ex02.q1.cases}

    def cam_parts(model):  # right kernel, the name looked up from the public models' names
        return answers.get(tuple(layer.name for layer in model.layers), "?"), _kernel(model)

    assert status(ex02.q1, cam_parts) == "correct"
    cases = ex02.q1.cases + ex02.q1.hidden_cases(3)
    assert ex02.q1.judge(run_cases(cam_parts, cases), cases, hidden=5).status == "incorrect"


def _kernel(model):
    return np.asarray([layer for layer in model.layers if isinstance(layer, keras.layers.Dense)][-1].kernel)


def _by_connection(model):  # equivalent: walk back from the pooling by its position in the graph
    for index, layer in enumerate(model.layers):
        if isinstance(layer, keras.layers.GlobalAveragePooling2D):
            feature = model.layers[index - 1]
    while hasattr(feature, "layers"):
        feature = feature.layers[-1]
    return [feature.name, _kernel(model).tolist()]  # a list and a nested list are fine


def _lesson_position(model):
    return model.layers[-3].name, _kernel(model)


def _course_names(model):
    return model.get_layer("avg_pool").input.name, np.asarray(model.get_layer("predictions").kernel)


def _pooling_layer(model):
    pool = [layer for layer in model.layers if isinstance(layer, keras.layers.GlobalAveragePooling2D)][-1]
    return pool.name, _kernel(model)


def _backbone_not_opened(model):
    index = [i for i, layer in enumerate(model.layers) if isinstance(layer, keras.layers.GlobalAveragePooling2D)][-1]
    return model.layers[index - 1].name, _kernel(model)


def _last_conv2d(model):
    def convs(layers):
        for layer in layers:
            if isinstance(layer, keras.Model):
                yield from convs(layer.layers)
            elif isinstance(layer, keras.layers.Conv2D):
                yield layer
    return list(convs(model.layers))[-1].name, _kernel(model)


def _transposed(model):
    return _by_connection(model)[0], _kernel(model).T


def _bias(model):
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)][-1]
    return _by_connection(model)[0], np.asarray(dense.bias)


def _layer_object(model):
    feature = model.layers[-3]
    return feature, _kernel(model)


def _uses_camlab(model):
    from camlab.cam import find_feature_layer

    return find_feature_layer(model, for_cam=True).name, _kernel(model)


def test_equivalent_answer_is_correct():
    assert status(ex02.q1, _by_connection) == "correct"


@pytest.mark.parametrize("fn", [_lesson_position, _pooling_layer, _backbone_not_opened, _last_conv2d, _transposed,
                                _bias, _layer_object])
def test_typical_mistakes_are_incorrect(fn):
    assert status(ex02.q1, fn) == "incorrect"


def test_messages_name_the_mistake():
    assert "got 'gap'" in ex02.q1.grade(_lesson_position).message
    assert "got 'backbone'" in ex02.q1.grade(_backbone_not_opened).message
    assert "'features_relu', got 'conv_b'" in ex02.q1.grade(_last_conv2d).message
    assert "looks transposed" in ex02.q1.grade(_transposed).message


def test_a_lookup_by_the_course_names_raises_and_says_so():
    result = ex02.q1.grade(_course_names)
    assert result.status == "error" and "avg_pool" in result.message


def test_calling_find_feature_layer_is_caught():
    result = ex02.q1.grade(_uses_camlab)
    assert result.status == "incorrect" and "calls camlab's own answer" in result.message
