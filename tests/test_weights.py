"""camlab.weights: the torch-free .pth reader refuses what is not a state_dict, and reads what is, exactly."""
import collections
import os
import pickle
import sys
import types
import zipfile

import numpy as np
import pytest

from camlab import models, weights


class _FakeStorage:
    """Stands for a torch storage while pickling: pickled as a persistent id, its bytes follow the pickles."""

    def __init__(self, key, array):
        self.key, self.array = key, array


class _FakeTensor:
    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, size, stride, False, collections.OrderedDict())

    def __reduce__(self):
        return sys.modules["torch._utils"]._rebuild_tensor_v2, self.args


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, _FakeStorage):
            storage_class = getattr(sys.modules["torch"], "FloatStorage" if obj.array.dtype == np.float32
                                    else "LongStorage")
            return "storage", storage_class, obj.key, "cpu", obj.array.size, None
        return None


@pytest.fixture
def fake_torch(monkeypatch):
    """Modules named torch / torch._utils, only so that pickle can name torch's classes while writing."""
    torch, utils = types.ModuleType("torch"), types.ModuleType("torch._utils")
    for name in ("FloatStorage", "LongStorage"):
        setattr(torch, name, type(name, (), {"__module__": "torch"}))

    def _rebuild_tensor_v2(*args):
        raise AssertionError("never called while writing")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)


def write_legacy(path, state, storages):
    """A file in torch's legacy layout: magic, protocol, system info, the object, storage keys, raw data."""
    with open(path, "wb") as file:
        for header in (weights.MAGIC_NUMBER, weights.PROTOCOL_VERSION,
                       {"protocol_version": 1001, "little_endian": True, "type_sizes": {"int": 4}}):
            pickle.dump(header, file, protocol=2)
        _Pickler(file, protocol=2).dump(state)
        pickle.dump([s.key for s in storages], file, protocol=2)
        for storage in storages:
            file.write(np.int64(storage.array.size).tobytes())
            file.write(storage.array.tobytes())


def test_reads_tensors_views_and_counters(tmp_path, fake_torch):
    data = np.arange(12, dtype=np.float32)
    shared = _FakeStorage("0", data)
    counter = _FakeStorage("1", np.array([7], np.int64))
    state = collections.OrderedDict([
        ("conv.weight", _FakeTensor(shared, 0, (3, 4), (4, 1))),
        ("conv.transposed", _FakeTensor(shared, 0, (4, 3), (1, 4))),  # a strided view of the same storage
        ("bias", _FakeTensor(shared, 8, (4,), (1,))),
        ("bn.num_batches_tracked", _FakeTensor(counter, 0, (), ())),
    ])
    write_legacy(tmp_path / "ok.pth", state, [shared, counter])
    read = weights.read_state_dict(tmp_path / "ok.pth")
    assert list(read) == list(state)
    np.testing.assert_array_equal(read["conv.weight"], data.reshape(3, 4))
    np.testing.assert_array_equal(read["conv.transposed"], data.reshape(3, 4).T)
    np.testing.assert_array_equal(read["bias"], [8, 9, 10, 11])
    assert read["bn.num_batches_tracked"].dtype == np.int64 and read["bn.num_batches_tracked"] == 7


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("where", ["state", "value", "header"])
def test_a_pickle_that_would_run_a_command_is_refused_and_runs_nothing(tmp_path, fake_torch, where):
    marker = tmp_path / "pwned"
    exploit = _Exploit(marker)
    path = tmp_path / "evil.pth"
    if where == "header":  # the very first pickle, before anything looks like torch
        path.write_bytes(pickle.dumps(exploit, protocol=2))
    else:
        write_legacy(path, exploit if where == "state" else {"weight": exploit}, [])
    # control: the same bytes through the ordinary unpickler do run the command
    with open(path, "rb") as file:
        while not marker.exists():
            pickle.load(file)
    marker.unlink()
    with pytest.raises(weights.UnsafePickleError, match=r"Refused to load (posix|nt)\.system.*only tensors"):
        weights.read_state_dict(path)
    assert not marker.exists()


@pytest.mark.parametrize("content, found", [
    ({"lr": 0.1}, "float"),
    ({"weight": [1.0, 2.0]}, "list"),
    ([1, 2, 3], "list"),
    ({"nested": {"a": 1}}, "dict"),
])
def test_anything_but_tensors_is_refused(tmp_path, fake_torch, content, found):
    write_legacy(tmp_path / "data.pth", content, [])
    with pytest.raises(weights.UnsafePickleError, match=f"does not hold a state_dict.*{found}"):
        weights.read_state_dict(tmp_path / "data.pth")


def test_a_class_outside_the_allow_list_is_refused_even_if_harmless(tmp_path, fake_torch):
    write_legacy(tmp_path / "set.pth", {"names": collections.Counter("ab")}, [])
    with pytest.raises(weights.UnsafePickleError, match=r"Refused to load collections\.Counter"):
        weights.read_state_dict(tmp_path / "set.pth")


def test_truncated_out_of_range_zip_and_foreign_files_are_refused(tmp_path, fake_torch):
    storage = _FakeStorage("0", np.arange(6, dtype=np.float32))
    write_legacy(tmp_path / "full.pth", {"w": _FakeTensor(storage, 0, (2, 3), (3, 1))}, [storage])
    (tmp_path / "cut.pth").write_bytes((tmp_path / "full.pth").read_bytes()[:-5])
    with pytest.raises(weights.UnsafePickleError, match="ends 5 bytes early"):
        weights.read_state_dict(tmp_path / "cut.pth")

    write_legacy(tmp_path / "far.pth", {"w": _FakeTensor(storage, 4, (2, 3), (3, 1))}, [storage])
    with pytest.raises(weights.UnsafePickleError, match="reaches outside its storage"):
        weights.read_state_dict(tmp_path / "far.pth")

    with zipfile.ZipFile(tmp_path / "new.pth", "w") as archive:
        archive.writestr("archive/data.pkl", b"")
    with pytest.raises(weights.UnsafePickleError, match="zip format.*legacy format only"):
        weights.read_state_dict(tmp_path / "new.pth")

    (tmp_path / "text.pth").write_text("not a pickle at all")
    with pytest.raises(weights.UnsafePickleError, match="not a torch .pth file"):
        weights.read_state_dict(tmp_path / "text.pth")


def test_the_wheels_state_dict_is_efficientnet_lite0():
    path, version = models.imagenet_weights_file()
    state = weights.read_state_dict(path)
    assert version and len(state) == 296
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3) and state["_conv_stem.weight"].dtype == np.float32
    assert state["_fc.weight"].shape == (1000, 1280) and state["_fc.bias"].shape == (1000,)
    assert state["_blocks.15._depthwise_conv.weight"].shape == (1152, 1, 3, 3)
    assert all(np.all(np.isfinite(v)) for v in state.values())
    assert all(np.all(state[k] >= 0) for k in state if k.endswith("running_var"))


def test_layout_conversions():
    conv = np.arange(2 * 3 * 5 * 7, dtype=np.float32).reshape(2, 3, 5, 7)  # (out, in, kh, kw)
    assert weights.conv_kernel(conv).shape == (5, 7, 3, 2)
    assert weights.conv_kernel(conv)[4, 6, 2, 1] == conv[1, 2, 4, 6]
    depthwise = conv[:, :1]
    assert weights.depthwise_kernel(depthwise)[4, 6, 1, 0] == depthwise[1, 0, 4, 6]
    with pytest.raises(ValueError, match=r"\(C, 1, kh, kw\)"):
        weights.depthwise_kernel(conv)
    linear = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(weights.dense_kernel(linear), linear.T)


@pytest.mark.parametrize("depthwise", [False, True])
def test_folding_batch_norm_into_a_convolution_is_exact(depthwise):
    import keras

    rng = np.random.default_rng(4)
    channels = 4
    x = rng.normal(size=(2, 6, 6, channels)).astype(np.float32)
    conv = (keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False) if depthwise
            else keras.layers.Conv2D(5, 3, padding="same", use_bias=False))
    reference = conv(x)
    out = conv.get_weights()[0].shape[-2 if depthwise else -1]
    bn_values = [rng.uniform(0.5, 2, out), rng.normal(size=out), rng.normal(size=out), rng.uniform(0.1, 3, out)]
    bn = keras.layers.BatchNormalization(epsilon=1e-3)
    bn.build(reference.shape)
    bn.set_weights(bn_values)
    expected = keras.ops.convert_to_numpy(bn(reference, training=False))
    folded = (keras.layers.DepthwiseConv2D(3, padding="same") if depthwise
              else keras.layers.Conv2D(5, 3, padding="same"))
    folded.build(x.shape)
    folded.set_weights(weights.fold_batch_norm(conv.get_weights()[0], bn_values, 1e-3, depthwise=depthwise))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(folded(x)), expected, atol=1e-5)
