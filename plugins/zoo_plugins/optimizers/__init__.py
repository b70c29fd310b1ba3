"""The built-in optimizers: the plugin module, named after its entry point, and its ``_``-prefixed helper.

Plugin (entry point in pyproject.toml's ``[project.entry-points.zoo]``):

- ``keras_optimizers.py``: entry point ``keras-optimizers``, Keras' adam, sgd, rmsprop and adamw.

Helper (no entry point; imported inside the factories, it imports TensorFlow):

- ``_fused_adam.py``: Adam's update in one TensorFlow kernel per weight, behind adam and adamw's ``fused``.
"""
