"""The built-in architectures: a module per plugin (named after its entry point), the shared helper ``_``-prefixed.

Plugins (entry points in pyproject.toml's ``[project.entry-points.zoo]``):

- ``mlp.py``: entry point ``mlp``, the dense network of the classic Keras MNIST tutorial.
- ``cnn.py``: entry point ``cnn``, a LeNet-style convolutional network.
- ``mobilenet.py``: entry point ``mobilenet``, depthwise-separable blocks with a width multiplier.
- ``resnet.py``: entry point ``resnet``, a small residual network.
- ``keras_applications.py``: entry point ``keras-applications``, every image model of ``keras.applications``
  (``mobilenet-v3-small``, ``efficientnet-b0``, ``resnet50``...) with a pooled head.

Helpers (no entry point; imported inside the factories):

- ``_convolution.py``: what cnn, mobilenet and resnet share (image inputs, sizes, conv + batch norm, the head).
- ``_applications.py``: building a keras.applications model for zoo (inputs, rescaling, weights files, the head).
"""
