"""Reads the tensors of a legacy (pre-zip) PyTorch checkpoint without torch.

The legacy layout is five pickles in a row (magic number, protocol version,
system info, the object, the list of storage keys) followed by each storage as
a little-endian int64 element count and the raw elements.
"""
import pickle
import struct

import numpy as np

_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "LongStorage": np.int64}


class _Storage:
    def __init__(self, key, dtype):
        self.key, self.dtype, self.data = key, dtype, None


class _Tensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def array(self):
        item = self.storage.data.itemsize
        return np.lib.stride_tricks.as_strided(
            self.storage.data[self.offset:], shape=self.size,
            strides=[s * item for s in self.stride]).copy()


class _Unpickler(pickle.Unpickler):
    def __init__(self, f, storages):
        super().__init__(f)
        self.storages = storages

    def find_class(self, module, name):
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return lambda s, o, size, stride, *rest: _Tensor(s, o, size, stride)
        if module == "torch" and name in _DTYPES:
            return name
        if (module, name) == ("collections", "OrderedDict"):
            import collections
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"unexpected global {module}.{name}")

    def persistent_load(self, pid):
        _, kind, key, _location, _size, _view = pid
        return self.storages.setdefault(key, _Storage(key, _DTYPES[kind]))


def load(path):
    """The checkpoint object with every tensor as a numpy array."""
    with open(path, "rb") as f:
        for _ in range(3):
            pickle.load(f)
        storages = {}
        obj = _Unpickler(f, storages).load()
        keys = pickle.load(f)
        for key in keys:
            (count,) = struct.unpack("<q", f.read(8))
            st = storages[key]
            st.data = np.frombuffer(f.read(count * np.dtype(st.dtype).itemsize), dtype=st.dtype)
    return _arrays(obj)


def _arrays(obj):
    if isinstance(obj, dict):
        return {k: _arrays(v) for k, v in obj.items()}
    if isinstance(obj, _Tensor):
        return obj.array()
    return obj
