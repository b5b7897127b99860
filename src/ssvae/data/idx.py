"""Reading idx files, the format MNIST and Fashion-MNIST are published in.

An idx file is a 4-byte magic number (two zero bytes, a type code and the number
of dimensions), one big-endian ``int32`` per dimension, then the values. Files
may be gzip-compressed (``*.gz``), as they are published and as Debian ships them.
"""
import gzip
import os

import numpy as np
import torch

from ssvae.errors import SsvaeError

_IDX_TYPES = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path):
    """Read one idx file (plain or ``.gz``) into a tensor of its stored shape."""
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise SsvaeError(f"cannot read idx file {path}: {e}; re-download it or point --data-dir elsewhere")
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise SsvaeError(f"{path} is not an idx file (bad magic number); expected MNIST-style idx data")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">i4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise SsvaeError(
            f"{path} is truncated or corrupt: header says shape {shape} ({expected} bytes), "
            f"file holds {len(raw) - header}; re-download it"
        )
    array = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return torch.from_numpy(array.astype(array.dtype.newbyteorder("=")))


def find_idx(directory, stem):
    """Path of ``stem`` or ``stem.gz`` in ``directory``, or None."""
    for name in (stem, stem + ".gz"):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    return None
