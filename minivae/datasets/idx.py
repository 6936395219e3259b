"""The IDX file format of MNIST and Fashion-MNIST: one array per file, big-endian (LeCun et al.).

    offset      bytes     meaning
    0           2         always 0x00 0x00
    2           1         dtype code: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
    3           1         ndim, the number of dimensions
    4           4 * ndim  each dimension as a big-endian uint32
    4 + 4*ndim  the rest   the values in row-major (C) order: prod(dims) * itemsize bytes, nothing after them

So the "magic number" 2051 = 0x00000803 at the start of an image file means "uint8, 3 dimensions" (N, 28, 28),
and 2049 = 0x00000801 at the start of a label file means "uint8, 1 dimension" (N,). The files are usually
gzip-compressed; ``read_idx`` reads both forms.
"""
import gzip
import math
import pathlib
import struct
import zlib

import numpy as np

_IDX_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path_or_fileobj) -> np.ndarray:
    """Read one IDX file (raw or gzip-compressed) into a NumPy array; see the module docstring for the layout.

    Gzip is recognised by its first two bytes (0x1f 0x8b), not by the file name. The result has the shape stored in
    the header, e.g. (10000, 28, 28) uint8 for MNIST images, in native byte order.

    Example::

        >>> labels = read_idx("t10k-labels-idx1-ubyte.gz")   # doctest: +SKIP
        >>> labels.shape, labels.dtype   # doctest: +SKIP
        ((10000,), dtype('uint8'))
    """
    raw, where = _read_bytes(path_or_fileobj)
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise ValueError(f"{where} is not a valid gzip file ({err}): it is probably corrupt or only partly "
                             f"downloaded; delete it and download it again") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{where} is not an IDX file: it must start with bytes 0x00 0x00, found {raw[:4].hex(' ')}")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in _IDX_DTYPES)
        raise ValueError(f"{where}: unknown IDX dtype code 0x{code:02X} (magic {raw[:4].hex(' ')}); known: {known}")
    header_size = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header_size:
        raise ValueError(f"{where}: bad IDX header: ndim={ndim}, header needs {header_size} bytes, file has {len(raw)}")
    dims = struct.unpack(f">{ndim}I", raw[4:header_size])
    dtype = np.dtype(_IDX_DTYPES[code])
    expected, found = math.prod(dims) * dtype.itemsize, len(raw) - header_size
    if found < expected:
        raise ValueError(f"{where} is truncated: expected {expected} bytes of data, found {found} "
                         f"(shape {dims}); delete it and download it again")
    if found > expected:
        raise ValueError(f"{where}: {found - expected} unexpected trailing bytes after the data of shape {dims} "
                         f"({expected} bytes); the file is damaged, delete it and download it again")
    flat = np.frombuffer(raw, dtype=dtype, count=math.prod(dims), offset=header_size)
    return flat.reshape(dims).astype(dtype.newbyteorder("="))  # a writable copy in native byte order


def _read_bytes(path_or_fileobj):
    """Return (all bytes, a name for error messages) of a path or of an open binary file."""
    if hasattr(path_or_fileobj, "read"):
        return path_or_fileobj.read(), str(getattr(path_or_fileobj, "name", "the IDX stream"))
    path = pathlib.Path(path_or_fileobj)
    return path.read_bytes(), str(path)


def read_images_and_labels(images_path, labels_path):
    """Parse an IDX image file and its label file into (N, H*W) uint8 images, (N,) int64 labels and (H, W).

    The images are flattened row by row; the two files must hold the same number N of examples.
    """
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"{images_path} and {labels_path} do not fit together: expected images (N, H, W) and "
                         f"labels (N,), found {images.shape} and {labels.shape}")
    return images.reshape(len(images), -1), labels.astype(np.int64), images.shape[1:]
