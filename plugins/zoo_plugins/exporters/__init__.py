"""The built-in exporters: a module per plugin, named after its entry point.

Plugins (entry points in pyproject.toml's ``[project.entry-points.zoo]``):

- ``savedmodel.py``: entry point ``savedmodel``, a TensorFlow SavedModel for serving.
- ``tflite.py``: entry point ``tflite``, TensorFlow Lite files (float32, float16, dynamic and int8 variants).
- ``onnx.py``: entry point ``onnx``, an ONNX file for onnxruntime and other runtimes (the ``onnx`` extra).

What they share (staging, verification, metadata) is zoo_core's: ``zoo_core.export``.
"""
