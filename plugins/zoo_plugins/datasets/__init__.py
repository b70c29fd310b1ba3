"""The built-in datasets: a module per plugin (named after its entry point), helpers ``_``-prefixed.

Plugins (entry points in pyproject.toml's ``[project.entry-points.zoo]``):

- ``mnist.py``: entry point ``mnist``, MNIST handwritten digits; ``mnist.npz`` beside it is the copy it ships.
- ``image_folder.py``: entry point ``image-folder``, your own images, one sub-folder per class.
- ``csv.py``: entry point ``csv``, your own table of numbers with a label column.

Helpers (no entry point; imported inside the factories):

- ``_image_files.py``: listing and decoding the image folder (image-folder).
- ``_csv_table.py``: reading and checking the CSV cells (csv).
- ``_splits.py``: seeded, stratified train/test splits (image-folder and csv).
- ``_common.py``: what image-folder and csv share: refusing link loops, FIFOs and devices before opening
  anything, opening without blocking, short lists ("a, b ... (N more)") in messages.
"""
