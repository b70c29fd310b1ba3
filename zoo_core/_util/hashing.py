"""sha256 digests of arrays and of files, for data fingerprints and weight digests."""

from __future__ import annotations

import hashlib
from typing import Any, Callable, Iterable


def sha256_of_arrays(arrays: Iterable[Any]) -> str:
    """sha256 over the dtype, shape and bytes of each array, in order (numpy is imported lazily)."""
    import numpy as np

    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(str((array.dtype.str, array.shape)).encode())
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


def sha256_of_files(files: Iterable[str], labels: Any, read: Callable[[str], bytes] | None = None) -> str:
    """sha256 over each entry's bytes (``read(entry)``; without it a file's content, and the text of an entry that
    is no file), then the labels.

    Files are read in blocks, never whole: memory stays flat however many and large they are.
    """
    import os

    digest = hashlib.sha256()
    for entry in files:
        entry = str(entry)
        if read is not None:
            stored = read(entry)
            digest.update(f"record {len(stored)}\n".encode() + stored)
        elif os.path.isfile(entry):
            with open(entry, "rb") as handle:
                digest.update(f"file {os.path.getsize(entry)}\n".encode())
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        else:
            encoded = entry.encode("utf-8", "surrogateescape")
            digest.update(f"record {len(encoded)}\n".encode() + encoded)
    digest.update(sha256_of_arrays((labels,)).encode())
    return digest.hexdigest()
