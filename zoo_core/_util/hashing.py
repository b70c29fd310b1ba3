"""sha256 digests of arrays, for data fingerprints and weight digests."""

from __future__ import annotations

import hashlib
from typing import Any, Iterable


def sha256_of_arrays(arrays: Iterable[Any]) -> str:
    """sha256 over the dtype, shape and bytes of each array, in order (numpy is imported lazily)."""
    import numpy as np

    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(str((array.dtype.str, array.shape)).encode())
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()
