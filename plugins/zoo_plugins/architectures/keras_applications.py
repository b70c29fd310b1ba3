"""Built-in architectures: every image model of ``keras.applications`` by a readable name, with a pooled head.

The names and parameters are static data (:data:`APPLICATIONS`), so ``zoo
list`` and ``zoo show`` never import TensorFlow; tests/test_keras_applications.py
checks the table against the installed Keras so it cannot drift. The model is
built by ``_applications.py`` beside this module (imported inside the
factories): inputs at the dataset's shape, resized in the graph to
``image_size``, grayscale repeated to RGB, rescaled as the application
expects, the application without its top, then ``head_pool``,
``head_dropout`` and the softmax ``probabilities``.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Annotated, Any, Callable

from zoo_core import Component, Range, hookimpl

#: The largest image side zoo builds these models at (EfficientNetB7's own size is 600).
MAX_IMAGE_SIZE = 1024
#: Where Keras keeps its ImageNet weights files.
WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"
#: How each family rescales zoo's [0, 1] images to what its ImageNet weights were trained on:
#: "tf" [-1, 1]; "raw" [0, 255] (the application rescales inside); "caffe" BGR minus the ImageNet mean;
#: "torch" minus the ImageNet mean, divided by its standard deviation (as keras' preprocess_input does).
PREPROCESSING = ("tf", "raw", "caffe", "torch")


@dataclass(frozen=True)
class Application:
    """One model of ``keras.applications`` as zoo registers it."""

    name: str  #: zoo's name, e.g. ``mobilenet-v3-small``
    constructor: str  #: its function in ``keras.applications``, e.g. ``MobileNetV3Small``
    preprocessing: str  #: one of :data:`PREPROCESSING`
    default_size: int  #: the side its ImageNet weights were trained at (the default ``image_size``)
    weights_file: str  #: the file Keras caches its ImageNet weights (without top) in, under KERAS_HOME/models
    weights_url: str  #: where Keras downloads that file from
    min_size: int = 32  #: the smallest side the application builds at
    alphas: tuple[float, ...] = ()  #: the width multipliers ImageNet weights exist for (() = no alpha parameter)
    imagenet_sizes: tuple[int, ...] = ()  #: the only sides its ImageNet weights fit (() = any)
    minimalistic: bool = False  #: whether it has MobileNetV3's ``minimalistic`` option

    @property
    def summary(self) -> str:
        return f"keras.applications.{self.constructor} (ImageNet weights from Keras' cache), with a pooled head"


def _app(name: str, constructor: str, preprocessing: str, default_size: int, weights_file: str, folder: str,
         **options: Any) -> Application:
    """An entry whose weights are downloaded from ``WEIGHTS_URL + folder + weights_file`` (unless ``url`` given)."""
    url = options.pop("url", f"{WEIGHTS_URL}{folder}/{weights_file}")
    return Application(name, constructor, preprocessing, default_size, weights_file, url, **options)


_EFFICIENTNET_SIZES = {"b0": 224, "b1": 240, "b2": 260, "b3": 300, "b4": 380, "b5": 456, "b6": 528, "b7": 600}
_EFFICIENTNET_V2_SIZES = {"b0": 224, "b1": 240, "b2": 260, "b3": 300, "s": 384, "m": 480, "l": 480}
_TF_KERNELS = "_weights_tf_dim_ordering_tf_kernels_notop.h5"

#: Every image model of keras.applications (Keras 3): name, constructor, preprocessing, size, ImageNet file.
#: ``{alpha}``/``{size}`` in a file name are filled in as Keras does (:func:`imagenet_file`).
APPLICATIONS: tuple[Application, ...] = (
    _app("mobilenet-v1", "MobileNet", "tf", 224, "mobilenet_{alpha}_{size}_tf_no_top.h5", "mobilenet",
         alphas=(0.25, 0.5, 0.75, 1.0)),
    _app("mobilenet-v2", "MobileNetV2", "tf", 224,
         "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{alpha}_{size}_no_top.h5", "mobilenet_v2",
         alphas=(0.35, 0.5, 0.75, 1.0, 1.3, 1.4)),
    _app("mobilenet-v3-small", "MobileNetV3Small", "raw", 224,
         "weights_mobilenet_v3_small{minimalistic}_224_{alpha}_float_no_top_v2.h5", "mobilenet_v3",
         alphas=(0.75, 1.0), minimalistic=True),
    _app("mobilenet-v3-large", "MobileNetV3Large", "raw", 224,
         "weights_mobilenet_v3_large{minimalistic}_224_{alpha}_float_no_top_v2.h5", "mobilenet_v3",
         alphas=(0.75, 1.0), minimalistic=True),
    *(_app(f"efficientnet-{b}", f"EfficientNet{b.upper()}", "raw", size, f"efficientnet{b}_notop.h5", "",
           url=f"https://storage.googleapis.com/keras-applications/efficientnet{b}_notop.h5")
      for b, size in _EFFICIENTNET_SIZES.items()),
    *(_app(f"efficientnet-v2-{b}", f"EfficientNetV2{b.upper()}", "raw", size, f"efficientnetv2-{b}_notop.h5",
           "efficientnet_v2") for b, size in _EFFICIENTNET_V2_SIZES.items()),
    *(_app(f"convnext-{size}", f"ConvNeXt{size.title().replace('Xl', 'XL')}", "raw", 224,
           f"convnext_{size}_notop.h5", "convnext") for size in ("tiny", "small", "base", "large", "xlarge")),
    *(_app(f"densenet{depth}", f"DenseNet{depth}", "torch", 224, f"densenet{depth}{_TF_KERNELS}", "densenet")
      for depth in (121, 169, 201)),
    _app("nasnet-mobile", "NASNetMobile", "tf", 224, "nasnet_mobile_no_top.h5", "",
         url=f"{WEIGHTS_URL}nasnet/NASNet-mobile-no-top.h5", imagenet_sizes=(224,)),
    _app("nasnet-large", "NASNetLarge", "tf", 331, "nasnet_large_no_top.h5", "",
         url=f"{WEIGHTS_URL}nasnet/NASNet-large-no-top.h5", imagenet_sizes=(331,)),
    *(_app(f"resnet{depth}", f"ResNet{depth}", "caffe", 224, f"resnet{depth}{_TF_KERNELS}", "resnet")
      for depth in (50, 101, 152)),
    *(_app(f"resnet{depth}-v2", f"ResNet{depth}V2", "tf", 224, f"resnet{depth}v2{_TF_KERNELS}", "resnet")
      for depth in (50, 101, 152)),
    _app("vgg16", "VGG16", "caffe", 224, f"vgg16{_TF_KERNELS}", "vgg16"),
    _app("vgg19", "VGG19", "caffe", 224, f"vgg19{_TF_KERNELS}", "vgg19"),
    _app("xception", "Xception", "tf", 299, f"xception{_TF_KERNELS}", "xception", min_size=71),
    _app("inception-v3", "InceptionV3", "tf", 299, f"inception_v3{_TF_KERNELS}", "inception_v3", min_size=75),
    _app("inception-resnet-v2", "InceptionResNetV2", "tf", 299, f"inception_resnet_v2{_TF_KERNELS}",
         "inception_resnet_v2", min_size=75),
)
BY_NAME: dict[str, Application] = {application.name: application for application in APPLICATIONS}

#: Batch normalisation's moving-average momentum zoo sets (Keras' applications use 0.99 or 0.999, whose statistics
#: need thousands of steps to fit new data: trained from scratch on a small folder they test at chance).
BN_MOMENTUM = 0.9

Dropout = Annotated[float, Range(0, 1, high_open=True)]
Momentum = Annotated[float, Range(0, 1, high_open=True)]
Shift = Annotated[float, Range(0, 0.5)]
Alpha = Annotated[float, Range(0, 4, low_open=True)]


def imagenet_file(application: Application, alpha: float = 1.0, image_size: int = 224,
                  minimalistic: bool = False) -> tuple[str, str]:
    """``(file name in Keras' cache, download URL)`` of the application's ImageNet weights without top, as Keras
    names them: MobileNet and MobileNetV2 have a file per width and size (the default size when there is none for
    ``image_size``), MobileNetV3 one per width and variant."""
    sizes = {"mobilenet-v1": (128, 160, 192, 224), "mobilenet-v2": (96, 128, 160, 192, 224)}.get(application.name)
    size = image_size if sizes is None or image_size in sizes else application.default_size
    if application.name == "mobilenet-v1":
        alpha_text = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0"}.get(alpha, "2_5")
    elif application.name == "mobilenet-v2":
        alpha_text = str(float(alpha))
    else:
        alpha_text = str(alpha)
    values = {"alpha": alpha_text, "size": size, "minimalistic": "_minimalistic" if minimalistic else ""}
    return application.weights_file.format(**values), application.weights_url.format(**values)


def _docstring(application: Application) -> str:
    """The factory's docstring: what it builds and its ``Args:`` (read by ``zoo show``)."""
    alphas = ", ".join(str(alpha) for alpha in application.alphas)
    sizes = " or ".join(str(size) for size in application.imagenet_sizes)
    lines = [
        f"{application.summary}.",
        "",
        f"keras.applications.{application.constructor} without its top, at image_size x image_size RGB: the "
        "dataset's images are resized to it inside the model, grayscale is repeated to three channels, and "
        f"zoo's [0, 1] pixels are rescaled as the application expects ({application.preprocessing} mode). Then "
        "global average pooling (head_pool), dropout (head_dropout) and a softmax over the dataset's classes "
        "(probabilities).",
        "",
        "Args:",
        f"    image_size: side of the square image the application works at (its ImageNet weights were trained "
        f"at {application.default_size}{'; with weights = imagenet: ' + sizes if sizes else ''}).",
    ]
    if application.alphas:
        lines.append(f"    alpha: width multiplier of every layer's channels (with weights = imagenet: {alphas}).")
    if application.minimalistic:
        lines.append("    minimalistic: MobileNetV3's variant without squeeze-excite, hard-swish and 5x5 "
                     "convolutions (ImageNet weights for alpha 1.0 only).")
    lines += [
        "    dropout: dropout rate of the head, before the output layer, in [0, 1).",
        "    bn_momentum: momentum of every batch normalisation's moving averages (Keras' own 0.99 or 0.999 need "
        "thousands of steps to fit new data; 0.9 fits within about 50).",
        "    random_shift: training only: shift each image at random by up to this fraction of its height and "
        "width (0: off); a cheap augmentation that generalises better. Inference and exports are unaffected.",
        "    weights: none (random), imagenet (Keras' file from its cache, KERAS_HOME/models or ~/.keras/models: "
        "zoo never downloads), or the path of a weights file of this application without its top (.weights.h5 "
        "or Keras' .h5).",
    ]
    return "\n".join(lines) + "\n"


def _factory(application: Application) -> Callable[..., Any]:
    """The architecture factory of one application, its parameters declared by a signature made from the table."""
    keyword = inspect.Parameter.KEYWORD_ONLY
    image_size = Annotated[int, Range(application.min_size, MAX_IMAGE_SIZE)]
    declared = [("image_size", image_size, application.default_size)]
    if application.alphas:
        declared.append(("alpha", Alpha, 1.0))
    if application.minimalistic:
        declared.append(("minimalistic", bool, False))
    declared += [("dropout", Dropout, 0.2), ("bn_momentum", Momentum, BN_MOMENTUM), ("random_shift", Shift, 0.0),
                 ("weights", str, "none")]
    signature = inspect.Signature(
        [inspect.Parameter("input_shape", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=tuple[int, ...]),
         inspect.Parameter("num_classes", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=int),
         *(inspect.Parameter(name, keyword, default=default, annotation=annotation)
           for name, annotation, default in declared)],
        return_annotation=Any)

    def factory(*args: Any, **kwargs: Any) -> Any:
        from zoo_plugins.architectures._applications import build_application

        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return build_application(application, **bound.arguments)

    factory.__signature__ = signature  # type: ignore[attr-defined]
    factory.__annotations__ = {parameter.name: parameter.annotation for parameter in signature.parameters.values()}
    factory.__annotations__["return"] = Any
    factory.__doc__ = _docstring(application)
    factory.__name__ = factory.__qualname__ = application.name.replace("-", "_")
    return factory


@hookimpl
def register_architectures() -> list[Component]:
    return [Component(application.name, _factory(application), summary=application.summary)
            for application in APPLICATIONS]
