"""A PNG/JPEG upload or CSV rows of raw features (or a ``.npy`` array) turned into model inputs exactly as ``zoo predict`` turns a file.

The body is written to a private temporary file and read by
:func:`zoo_core.predict.load_input`, the function ``zoo predict`` uses: the
same resizing, colour conversion and normalisation, so the same figures for
the same file.

Importing this module imports neither numpy nor Pillow.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from zoo_core.errors import DataError, RequestError
from zoo_core.predict import load_input
from zoo_core.serve.models import ServedModel

if TYPE_CHECKING:
    import numpy as np

#: How an upload is named in error messages.
UPLOAD = "the upload"
#: How image files start: PNG, JPEG, GIF and TIFF (both byte orders); WebP is RIFF....WEBP. (A BMP's "BM" could
#: be the start of a CSV header: send it as image/bmp.)
IMAGE_SIGNATURES = (b"\x89PNG", b"\xff\xd8", b"GIF8", b"II*\x00", b"MM\x00*")
#: The suffix zoo predict reads a file by, from the Content-Type of an upload.
SUFFIXES = {"image/png": ".png", "image/jpeg": ".jpg", "image/jpg": ".jpg", "text/csv": ".csv", "text/plain": ".csv",
            "application/x-npy": ".npy"}


def upload_examples(body: bytes, content_type: str, model: ServedModel) -> "np.ndarray":
    """The model's inputs for an uploaded image or CSV text, shape ``(n, *input_shape)``.

    The kind comes from ``content_type`` (image/png, image/jpeg, text/csv,
    application/x-npy), or from the bytes when it is missing or generic (image
    and .npy signatures; anything else is read as CSV). A
    ``multipart/form-data`` body gives its file (:func:`form_file`). Raises RequestError 415 for another kind, 400 for an
    empty body and for everything ``zoo predict`` refuses in such a file
    (undecodable image, wrong shape, a CSV row with the wrong number of
    values, NaN...), with the upload named instead of the temporary file.
    """
    if content_type.split(";")[0].strip().lower() == "multipart/form-data":
        body, content_type = form_file(body, content_type)
    if not body:
        raise RequestError(400, "the body is empty", hint="send the image or CSV rows as the body")
    suffix = _suffix(body, content_type.split(";")[0].strip().lower())
    if not model.contract:
        raise RequestError(400, f"model '{model.name}' carries no input contract, so zoo cannot prepare images or "
                                "CSV rows for it", hint=f"POST model-scaled arrays to /v1/models/{model.name}:predict")
    with tempfile.TemporaryDirectory(prefix="zoo-serve-") as folder:
        path = Path(folder) / f"upload{suffix}"
        path.write_bytes(body)
        try:
            return load_input(path, model.contract)
        except DataError as error:
            named = error.message.replace(f"input '{path}'", UPLOAD).replace(f"'{path}'", UPLOAD)
            raise RequestError(400, named, hint=error.hint) from None


def form_file(body: bytes, content_type: str) -> tuple[bytes, str]:
    """The file of a ``multipart/form-data`` body (``curl -F file=@photo.jpg``) and its Content-Type: the first
    part with a file name, else the only part. RequestError 400 for a form without one."""
    from email import policy
    from email.parser import BytesParser

    message = BytesParser(policy=policy.HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    parts = list(message.iter_parts()) if message.is_multipart() else []
    named = [part for part in parts if part.get_filename()]
    chosen = named[0] if named else parts[0] if len(parts) == 1 else None
    if chosen is None:
        raise RequestError(400, f"the form holds {len(parts)} field(s) and no file",
                           hint="send the file as a form field: curl -F file=@photo.jpg URL, or as the whole body: "
                                "curl --data-binary @photo.jpg -H 'Content-Type: image/jpeg' URL")
    return chosen.get_payload(decode=True) or b"", chosen.get_content_type()


def _suffix(body: bytes, content_type: str) -> str:
    if content_type in SUFFIXES:
        return SUFFIXES[content_type]
    if content_type.startswith("image/"):
        return ".png"  # Pillow reads the image by its bytes; any suffix but .npy/.csv means an image
    if content_type not in ("", "application/octet-stream", "application/x-www-form-urlencoded"):
        raise RequestError(415, f"uploads of type '{content_type}' are not read",
                           hint="send a PNG or JPEG image (Content-Type: image/png), CSV rows (text/csv) "
                                "or a .npy array (application/x-npy)")
    if body.startswith(IMAGE_SIGNATURES) or (body[:4] == b"RIFF" and body[8:12] == b"WEBP"):
        return ".png"
    if body.startswith(b"\x93NUMPY"):
        return ".npy"
    return ".csv"
