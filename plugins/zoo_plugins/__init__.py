"""zoo's built-in plugins, a package per kind. Each plugin is an ordinary one, registered through the
``zoo`` entry-point group in pyproject.toml exactly as a third-party plugin is; zoo_core never imports
this package.

A plugin module is named after its entry point; a ``_``-prefixed module is a helper (no entry point)
beside the plugins that use it, imported inside their factories. The tree (entry point in brackets)::

    zoo_plugins/
      datasets/
        mnist.py              [mnist]         MNIST, the packaged mnist.npz beside it
        image_folder.py       [image-folder]  your images, a sub-folder per class
        csv.py                [csv]           your table of numbers
        _image_files.py  _csv_table.py  _splits.py  _common.py
      architectures/
        mlp.py  cnn.py  mobilenet.py  resnet.py     [mlp] [cnn] [mobilenet] [resnet]
        _convolution.py                             what the three conv nets share
      optimizers/
        keras_optimizers.py   [keras-optimizers]  adam, sgd, rmsprop, adamw
        _fused_adam.py                            Adam's update in one TensorFlow kernel
      losses.py               [keras-losses]      a kind with one module stays a module
      exporters/
        savedmodel.py  tflite.py                  [savedmodel] [tflite]
        onnx.py                                   [onnx]   the onnx extra: tf2onnx, onnx, onnxruntime
      callbacks/
        __init__.py           [callbacks]  early-stopping, reduce-lr-on-plateau, cosine-warmup, tensorboard
        mlflow.py             [mlflow]     tracking in MLflow
        _early_stopping.py  _reduce_lr_on_plateau.py  _cosine_warmup.py  _common.py
        _mlflow_tracker.py  _mlflow_store.py

Each package's ``__init__.py`` says which of its modules is which.
"""
