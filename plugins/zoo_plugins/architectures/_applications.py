"""Building a ``keras.applications`` model for zoo (the ``keras-applications`` plugin's machinery).

Not a plugin itself (no entry point): ``keras_applications.py`` imports it
inside its factories. The application's own layers keep their Keras names and
sit flat in zoo's model (not nested), so weights load by name and a
``freeze = "backbone"`` sees every layer; zoo's layers around them are the
input (``image``), ``add_channel``, ``gray_to_rgb``, ``resize``, ``preprocess``
and the head (``head_pool``, ``head_dropout``, ``probabilities``).
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from pathlib import Path
from typing import Any

from zoo_core.errors import ConfigError
from zoo_plugins.architectures.keras_applications import MAX_IMAGE_SIZE, Application, imagenet_file

#: ImageNet's mean pixel in BGR order, 0..255 (keras' "caffe" preprocessing: ResNet, VGG).
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
#: ImageNet's mean and standard deviation per RGB channel, 0..1 (keras' "torch" preprocessing: DenseNet).
TORCH_MEAN = (0.485, 0.456, 0.406)
TORCH_STD = (0.229, 0.224, 0.225)


class NeedsVariables(RuntimeError):
    """Weights cannot be loaded inside Keras' StatelessScope (zoo's first, stateless build, which only sizes the
    thread pools): the build stops there and zoo builds the model again, normally."""


def build_application(application: Application, input_shape: tuple[int, ...], num_classes: int, image_size: int,
                      dropout: float, bn_momentum: float, random_shift: float, weights: str, alpha: float | None = None,
                      minimalistic: bool | None = None) -> Any:
    """The zoo model of ``application`` for the dataset's ``input_shape`` and ``num_classes`` (see the module)."""
    from zoo_plugins.architectures._convolution import check_dropout, image_shape

    shape = image_shape(application.name, input_shape)
    _check_channels(application, shape)
    check_dropout(application.name, "dropout", dropout)
    if not 0.0 <= random_shift <= 0.5:
        raise ConfigError(f"architecture {application.name}: random_shift must be in [0, 0.5], got {random_shift}",
                          hint="e.g. --set architecture.random_shift=0.1")
    if not 0.0 <= bn_momentum < 1.0:
        raise ConfigError(f"architecture {application.name}: bn_momentum must be in [0, 1), got {bn_momentum}",
                          hint="e.g. --set architecture.bn_momentum=0.9")
    _check_size(application, image_size)
    options = {key: value for key, value in (("alpha", alpha), ("minimalistic", minimalistic)) if value is not None}
    source = weights_source(application, weights, image_size, **options)
    import keras
    from keras.src.backend.common.stateless_scope import in_stateless_scope

    from zoo_plugins.architectures._convolution import image_input

    if source is not None and in_stateless_scope():
        raise NeedsVariables(f"{application.name}: weights are loaded in a normal build")
    inputs, x = image_input(shape, random_shift)
    x = _application_input(x, shape, image_size, application.preprocessing)
    constructor = getattr(keras.applications, application.constructor)
    base = constructor(input_tensor=x, input_shape=(image_size, image_size, 3), include_top=False, weights=None,
                       **options)
    if source is not None:
        _load_weights(application, base, source, image_size, options)
    for layer in base.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = bn_momentum
    x = keras.layers.GlobalAveragePooling2D(name="head_pool")(base.output)
    if dropout:
        x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=application.name.replace("-", "_"))


def keras_cache() -> Path:
    """The folder Keras caches weights files in: ``$KERAS_HOME/models``, else ``~/.keras/models`` (as Keras finds it:
    ``/tmp/.keras/models`` when the home folder is not writable)."""
    if "KERAS_HOME" in os.environ:
        return Path(os.environ["KERAS_HOME"]).expanduser() / "models"
    home = os.path.expanduser("~")
    return Path(home if os.access(home, os.W_OK) else "/tmp") / ".keras" / "models"


def weights_source(application: Application, weights: str, image_size: int, alpha: float = 1.0,
                   minimalistic: bool = False) -> Path | None:
    """The weights file to load (None for ``weights = "none"``), or ConfigError before any work: ImageNet weights
    that do not exist for these parameters or are not in Keras' cache, a path that is not a file."""
    where = f"architecture {application.name}"
    if weights == "none":
        return None
    if weights == "imagenet":
        _check_imagenet(application, image_size, alpha, minimalistic)
        name, url = imagenet_file(application, alpha, image_size, minimalistic)
        path = keras_cache() / name
        if not path.is_file():
            raise ConfigError(
                f"{where}: weights = \"imagenet\" needs Keras' file {name} in {path.parent}, and it is not there "
                "(zoo never downloads)",
                hint=f"on a machine with internet, download {url}, and copy it to {path} (or to models/{name} "
                     "under the folder KERAS_HOME names); or train from random weights: "
                     "--set architecture.weights=\"none\"")
        return path
    path = Path(weights).expanduser()
    if not path.name.endswith(".h5"):
        raise ConfigError(f"{where}: weights must be \"none\", \"imagenet\" or the path of a weights file "
                          f"(.weights.h5 or .h5), got {weights!r}",
                          hint="e.g. --set architecture.weights=\"imagenet\" or "
                               "--set architecture.weights=\"backbone.weights.h5\"")
    if not path.is_file():
        raise ConfigError(f"{where}: weights file {str(path)!r} does not exist",
                          hint="give the path of a weights file of this application without its top, e.g. "
                               "saved with keras.applications.{0}(include_top=False, weights=None).save_weights("
                               "\"backbone.weights.h5\")".format(application.constructor))
    return path.resolve()


def _check_imagenet(application: Application, image_size: int, alpha: float, minimalistic: bool) -> None:
    """ConfigError when Keras has no ImageNet weights for this width, variant or size."""
    where = f"architecture {application.name}"
    if application.alphas and alpha not in application.alphas:
        raise ConfigError(f"{where}: ImageNet weights exist for alpha {', '.join(map(str, application.alphas))} "
                          f"only, got {alpha}", hint="e.g. --set architecture.alpha=1.0")
    if minimalistic and alpha != 1.0:
        raise ConfigError(f"{where}: ImageNet weights of the minimalistic variant exist for alpha 1.0 only, got "
                          f"{alpha}", hint="--set architecture.alpha=1.0, or --set architecture.minimalistic=false")
    if application.imagenet_sizes and image_size not in application.imagenet_sizes:
        sizes = " or ".join(map(str, application.imagenet_sizes))
        raise ConfigError(f"{where}: its ImageNet weights fit image_size {sizes} only, got {image_size}",
                          hint=f"--set architecture.image_size={application.imagenet_sizes[0]}")


def _check_channels(application: Application, shape: tuple[int, ...]) -> None:
    """Grayscale (one channel) or RGB images only."""
    if len(shape) == 3 and shape[2] not in (1, 3):
        raise ConfigError(f"architecture {application.name} takes grayscale or RGB images, got {shape[2]} channels",
                          hint="use an image folder of grayscale or RGB images, or --set architecture=cnn")


def _check_size(application: Application, image_size: int) -> None:
    """``image_size`` within the application's range (for a factory called directly, without zoo's checks)."""
    if not application.min_size <= image_size <= MAX_IMAGE_SIZE:
        raise ConfigError(f"architecture {application.name}: image_size must be in [{application.min_size}, "
                          f"{MAX_IMAGE_SIZE}], got {image_size}",
                          hint=f"e.g. --set architecture.image_size={application.default_size}")


def _application_input(x: Any, shape: tuple[int, ...], image_size: int, preprocessing: str) -> Any:
    """zoo's [0, 1] images as the application takes them: RGB, ``image_size`` square, rescaled by its family's rule."""
    import keras

    if len(shape) == 2 or shape[2] == 1:
        x = keras.layers.Concatenate(name="gray_to_rgb")([x, x, x])
    if (shape[0], shape[1]) != (image_size, image_size):
        x = keras.layers.Resizing(image_size, image_size, name="resize")(x)
    if preprocessing == "tf":
        return keras.layers.Rescaling(2.0, offset=-1.0, name="preprocess")(x)
    if preprocessing == "raw":
        return keras.layers.Rescaling(255.0, name="preprocess")(x)
    if preprocessing == "caffe":
        x = keras.ops.flip(x, axis=-1)  # RGB -> BGR
        return keras.layers.Rescaling(255.0, offset=[-mean for mean in CAFFE_MEAN_BGR], name="preprocess")(x)
    return keras.layers.Rescaling([1 / std for std in TORCH_STD],
                                  offset=[-mean / std for mean, std in zip(TORCH_MEAN, TORCH_STD)],
                                  name="preprocess")(x)


def _load_weights(application: Application, base: Any, source: Path, image_size: int,
                  options: dict[str, Any]) -> None:
    """Load ``source`` as Keras does (into the application built on its own), then copy layer by layer into
    ``base``; ConfigError for an unreadable file or one of another architecture."""
    import keras

    where = f"architecture {application.name}"
    constructor = getattr(keras.applications, application.constructor)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            loaded = constructor(input_shape=(image_size, image_size, 3), include_top=False, weights=str(source),
                                 **options)
    except OSError as error:
        raise ConfigError(f"{where}: cannot read weights file {str(source)!r}: it is not an HDF5 weights file, or "
                          f"it is damaged ({str(error).splitlines()[0]})",
                          hint="give a .weights.h5 or .h5 file that Keras wrote") from None
    except ValueError as error:
        raise ConfigError(f"{where}: weights file {str(source)!r} does not fit keras.applications."
                          f"{application.constructor}({_options_text(options)}): {str(error).splitlines()[0]}",
                          hint="give the weights of this application without its top, at the same alpha and "
                               "variant (another architecture's file does not load)") from None
    ours = [layer for layer in base.layers if layer.weights]
    theirs = [layer for layer in loaded.layers if layer.weights]
    for mine, other in zip(ours, theirs, strict=True):
        mine.set_weights(other.get_weights())


def _options_text(options: dict[str, Any]) -> str:
    """'alpha=0.75, minimalistic=False' (empty without options)."""
    return ", ".join(f"{key}={value!r}" for key, value in options.items())
