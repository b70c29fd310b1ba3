"""zoo-digits: an example third-party zoo plugin.

It registers, through the ``zoo`` entry-point group (see pyproject.toml):

- dataset ``digits``: scikit-learn's bundled 8x8 handwritten digits;
- architecture ``small-cnn``: a small convolutional network for any image size;
- optimizer ``lion``: Keras' Lion (sign-based momentum);
- exporter ``keras-file``: the model as a ``.keras`` file, verified by reloading.

Importing this package imports neither TensorFlow nor scikit-learn: the
factories import them when zoo builds a run, so ``zoo list`` stays fast.
"""

__version__ = "0.1.0"
