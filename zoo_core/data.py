"""What a dataset factory returns: arrays (:class:`Dataset`) or files decoded as they are read
(:class:`StreamingDataset`), plus the facts a model needs; the checks of that contract."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from zoo_core.augmentation import Augmentation, check_augmentation
from zoo_core.errors import DataError


@dataclass
class DatasetInfo:
    """Facts about a dataset that the rest of the run reads instead of assuming.

    Images (the defaults) and feature vectors are both first-class. For
    feature vectors (tabular data) give ``image=False``, ``input_shape=(n,)``
    and, if you standardise the features, their ``feature_mean`` and
    ``feature_std``: zoo records them in the exported model's input contract
    and ``zoo predict`` then takes raw features (``.npy`` or ``.csv`` rows)::

        DatasetInfo(name="wine", input_shape=(13,), num_classes=3, class_names=["cultivar 1", ...],
                    image=False, feature_names=["alcohol", ...], value_range=(-5.0, 5.0),
                    feature_mean=list(x_train_raw.mean(axis=0)), feature_std=list(x_train_raw.std(axis=0)))

    Model input = (raw * scale + offset - feature_mean) / feature_std, the
    last two per feature (the last axis of an example; per channel for an
    image) and only when given; :meth:`normalise` applies it.

    Args:
        name: the dataset's name, e.g. ``"mnist"``.
        input_shape: shape of one example as the model sees it, e.g. ``(28, 28)`` or ``(13,)``.
        num_classes: number of classes; labels are ``0 .. num_classes - 1``.
        class_names: a display name per class.
        input_dtype: dtype of the model's input, e.g. ``"float32"``.
        value_range: (low, high) of the model's input values (after normalisation),
            e.g. ``(0.0, 1.0)``; for standardised features e.g. ``(-5.0, 5.0)``.
        raw_value_range: value range of raw inputs; default ``(0, 255)`` (pixels)
            for images, ``value_range`` otherwise.
        scale: model input = raw * scale + offset (before the per-feature
            step); default ``1/255`` for images, ``1.0`` otherwise.
        offset: see ``scale``; default ``0.0``.
        image: whether examples are images (so plots and ``zoo predict`` can show them);
            ``False`` for feature vectors.
        channels: colour channels of an image input (1 = grayscale).
        resized: whether training resized images of any proportions to ``input_shape`` (as ``zoo predict``
            then does); False: an image far from the model's proportions is refused.
        description: one paragraph about the data and where it came from.
        feature_names: a name per feature (the last axis), e.g. ``["alcohol", ...]``;
            optional, used by plots and as the header of ``.csv`` input.
        feature_mean: per-feature mean subtracted from raw inputs (after scale/offset); optional.
        feature_std: per-feature divisor (all > 0); given together with ``feature_mean``.
        extra: anything else worth recording (JSON-ready).
    """

    name: str
    input_shape: tuple[int, ...]
    num_classes: int
    class_names: list[str]
    input_dtype: str = "float32"
    value_range: tuple[float, float] = (0.0, 1.0)
    raw_value_range: tuple[float, float] | None = None  # None: (0, 255) for images, value_range otherwise
    scale: float | None = None  # None: 1/255 for images, 1.0 otherwise
    offset: float = 0.0
    image: bool = True
    channels: int = 1
    resized: bool = False
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    feature_names: list[str] = field(default_factory=list)
    feature_mean: list[float] | None = None
    feature_std: list[float] | None = None

    def __post_init__(self) -> None:
        """Fill the defaults that differ between images and feature vectors."""
        if self.scale is None:
            self.scale = 1.0 / 255.0 if self.image else 1.0
        if self.raw_value_range is None:
            self.raw_value_range = (0.0, 255.0) if self.image else tuple(self.value_range)
        for key in ("feature_names", "feature_mean", "feature_std"):  # numpy arrays become JSON-ready lists
            value = getattr(self, key)
            if hasattr(value, "tolist"):
                setattr(self, key, value.tolist())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (used in manifests and export metadata: the model's input contract)."""
        data = asdict(self)
        data["input_shape"] = list(self.input_shape)
        data["value_range"] = list(self.value_range)
        data["raw_value_range"] = list(self.raw_value_range or ())
        for key in ("feature_mean", "feature_std"):
            if data[key] is not None:
                data[key] = [float(value) for value in data[key]]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DatasetInfo":
        """Inverse of :meth:`to_dict`; records written before a field existed get its default."""
        data = dict(data)
        data["input_shape"] = tuple(data["input_shape"])
        data["value_range"] = tuple(data["value_range"])
        data["raw_value_range"] = tuple(data.get("raw_value_range", (0.0, 255.0)))
        return cls(**data)

    def normalise(self, raw: Any) -> Any:
        """Raw inputs (pixels, raw features) as the model takes them; see :func:`normalise_inputs`."""
        return normalise_inputs(raw, self.to_dict())


def normalise_inputs(raw: Any, contract: dict[str, Any]) -> Any:
    """``(raw * scale + offset - feature_mean) / feature_std`` in ``input_dtype``.

    ``contract`` is :meth:`DatasetInfo.to_dict` or an exported model's
    ``metadata["input"]``; absent keys mean no change (``scale`` 1, ``offset``
    0, no per-feature step). The per-feature lists apply along the last axis.
    """
    import numpy as np

    values = np.asarray(raw, dtype=np.float64) * float(contract.get("scale", 1.0)) + float(contract.get("offset", 0.0))
    mean, std = contract.get("feature_mean"), contract.get("feature_std")
    if mean is not None and std is not None:
        values = (values - np.asarray(mean, dtype=np.float64)) / np.asarray(std, dtype=np.float64)
    return values.astype(contract.get("input_dtype", "float32"))


@dataclass
class Dataset:
    """Train and test splits as numpy arrays, and their :class:`DatasetInfo`.

    ``x_*`` have shape ``(n, *info.input_shape)`` and dtype ``info.input_dtype``;
    ``y_*`` are integer class indices of shape ``(n,)``. ``augmentation``
    (images only) changes the training batches at random; None: none.
    """

    x_train: Any
    y_train: Any
    x_test: Any
    y_test: Any
    info: DatasetInfo
    augmentation: Augmentation | None = None


def check_dataset(dataset: Dataset | StreamingDataset, where: str) -> None:
    """Refuse a dataset that does not honour the contract in zoo_core.data (either form)."""
    import numpy as np

    if is_streaming(dataset):
        check_streaming_dataset(dataset, where)
        return
    info = dataset.info
    if not isinstance(info, DatasetInfo):
        raise DataError(f"{where}: the dataset's info is not a zoo_core.data.DatasetInfo")
    for split in ("train", "test"):
        x, y = getattr(dataset, f"x_{split}"), getattr(dataset, f"y_{split}")
        if not isinstance(x, np.ndarray) or not isinstance(y, np.ndarray):
            raise DataError(f"{where}: x_{split} and y_{split} must be numpy arrays")
        if x.shape[1:] != tuple(info.input_shape):
            raise DataError(f"{where}: x_{split} has examples of shape {x.shape[1:]}, "
                            f"but info.input_shape is {tuple(info.input_shape)}")
        if y.ndim != 1 or len(y) != len(x):
            raise DataError(f"{where}: y_{split} must be one integer label per example "
                            f"(got shape {y.shape} for {len(x)} examples)")
        _check_labels(split, y, len(x), info, where)
    _check_info(dataset, where)


def check_feature_fields(info: DatasetInfo, where: str) -> None:
    """Refuse feature names, means or deviations that do not fit the last axis of ``input_shape``."""
    import numpy as np

    features = int(tuple(info.input_shape)[-1]) if len(info.input_shape) else 1
    if info.feature_names and len(info.feature_names) != features:
        raise DataError(f"{where}: {len(info.feature_names)} feature_names for {features} features "
                        f"(the last axis of input_shape {tuple(info.input_shape)})")
    if (info.feature_mean is None) != (info.feature_std is None):
        raise DataError(f"{where}: give feature_mean and feature_std together (one is missing)",
                        hint="model input = (raw - feature_mean) / feature_std, one value per feature each")
    for key in ("feature_mean", "feature_std"):
        values = getattr(info, key)
        if values is None:
            continue
        try:
            array = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            array = None
        if array is None or array.shape != (features,):
            raise DataError(f"{where}: {key} must be a list of {features} numbers, one per feature "
                            f"(the last axis of input_shape {tuple(info.input_shape)})")
        if not np.all(np.isfinite(array)) or (key == "feature_std" and np.any(array <= 0)):
            raise DataError(f"{where}: {key} must hold finite numbers" + (", all above 0" if key == "feature_std" else ""),
                            hint="a constant feature has std 0: use 1.0 for it, or drop the feature")


#: The ``cache`` values of a :class:`StreamingDataset`.
CACHES = ("none", "memory", "disk")


@dataclass
class StreamingDataset:
    """Train and test splits as files (or records) that zoo decodes as it reads them, and their :class:`DatasetInfo`.

    Nothing holds the decoded set: zoo builds a ``tf.data`` pipeline
    (zoo_core.training.streaming) that reads each epoch's examples in an
    order fixed by (seed, epoch), decodes them in parallel, batches them,
    and scales each batch to the model's input (``info.scale``, ``offset``,
    ``feature_mean``/``feature_std``) in float32.

    Args:
        train_files: one string per training example: a file's path, or any
            key or record ``decode`` understands.
        y_train: integer class indices, one per entry of ``train_files``.
        test_files: as ``train_files``, for the test split.
        y_test: as ``y_train``, for the test split.
        decode: ``decode(file) -> tensor``: one example of shape
            ``info.input_shape``, raw values (e.g. uint8 pixels) before the
            scaling. ``file`` is a scalar ``tf.string`` tensor in the pipeline
            and a Python ``str`` when zoo decodes a few examples eagerly (plots,
            export calibration); write it with TensorFlow ops (``tf.io.read_file``,
            ``tf.audio.decode_wav``...) or wrap Python code in ``tf.numpy_function``.
        info: the facts about the data.
        cache: ``"none"`` (decode every epoch), ``"memory"`` (the raw
            examples, decoded once, kept in memory) or ``"disk"`` (kept in a file
            of the run directory, read back by memory mapping).
        augmentation: random changes of the training images (:class:`Augmentation`),
            made on the raw values (``info.raw_value_range``) before the scaling; None: none.
        decode_batch: ``decode_batch(files) -> tensor``: the examples of a 1-D ``tf.string`` tensor of entries,
            stacked, as ``decode`` gives each: one call per batch (a table's rows); None: ``decode`` mapped.
        read: ``read(file) -> bytes``: an entry's stored bytes (the data fingerprint's), when entries are records
            inside files (a table's rows); None: the content of the file an entry names (else its text).

    ``len(train_files)`` and ``len(test_files)`` are the examples per
    split. :attr:`x_train` and :attr:`x_test` are views that decode on
    demand (for exporters, plots and small checks); a run never reads them whole.
    """

    train_files: Any
    y_train: Any
    test_files: Any
    y_test: Any
    decode: Callable[[Any], Any]
    info: DatasetInfo
    cache: str = "none"
    augmentation: Augmentation | None = None
    decode_batch: Callable[[Any], Any] | None = None
    read: Callable[[str], bytes] | None = None

    def __post_init__(self) -> None:
        """Hold the files and labels as numpy arrays (indexable like the arrays of a :class:`Dataset`)."""
        import numpy as np

        for key in ("train_files", "test_files"):
            value = getattr(self, key)
            if not isinstance(value, np.ndarray):
                setattr(self, key, np.asarray([str(item) for item in value], dtype=str))
        for key in ("y_train", "y_test"):
            setattr(self, key, np.asarray(getattr(self, key)))

    @property
    def x_train(self) -> "Examples":
        """The training examples as the model takes them, decoded on demand."""
        return Examples(self.train_files, self.decode, self.info)

    @property
    def x_test(self) -> "Examples":
        """The test examples as the model takes them, decoded on demand."""
        return Examples(self.test_files, self.decode, self.info)


class Examples:
    """The examples of some files, decoded and scaled when indexed: ``view[i]``, ``view[a:b]``, ``view[[i, j]]``.

    Array-like enough for the code written for a :class:`Dataset` (``len``,
    ``shape``, ``dtype``, slices, ``numpy.asarray``) while only the examples
    asked for are decoded, one by one (use it for a few: a whole set goes
    through zoo_core.training.streaming).
    """

    def __init__(self, files: Any, decode: Callable[[Any], Any], info: DatasetInfo) -> None:
        self.files, self.decode, self.info = files, decode, info

    def __len__(self) -> int:
        return len(self.files)

    @property
    def shape(self) -> tuple[int, ...]:
        """``(examples, *info.input_shape)``."""
        return (len(self.files), *tuple(self.info.input_shape))

    @property
    def dtype(self) -> Any:
        """The model input's dtype."""
        import numpy as np

        return np.dtype(self.info.input_dtype)

    def __getitem__(self, key: Any) -> Any:
        import numpy as np

        if isinstance(key, (int, np.integer)):
            return self._decoded([self.files[key]])[0]
        return self._decoded(self.files[key])

    def __iter__(self) -> Any:
        for index in range(len(self.files)):
            yield self[index]

    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        array = self._decoded(self.files)
        return array if dtype is None else array.astype(dtype)

    def _decoded(self, files: Any) -> Any:
        import numpy as np

        raw = [np.asarray(self.decode(str(file))) for file in np.atleast_1d(files)]
        shape = (len(raw), *tuple(self.info.input_shape))
        stacked = np.stack(raw) if raw else np.zeros(shape)
        return scale_examples(stacked, self.info)


def scale_examples(raw: Any, info: DatasetInfo) -> Any:
    """Raw examples (numpy) as the model takes them, in float32 arithmetic as zoo's pipeline scales a batch."""
    import numpy as np

    values = raw.astype(np.float32) * np.float32(info.scale) + np.float32(info.offset)
    if info.feature_mean is not None and info.feature_std is not None:
        values = (values - np.asarray(info.feature_mean, np.float32)) / np.asarray(info.feature_std, np.float32)
    return values.astype(info.input_dtype)


def is_streaming(dataset: Any) -> bool:
    """Whether ``dataset`` is a :class:`StreamingDataset` (its examples are decoded as they are read)."""
    return isinstance(dataset, StreamingDataset)


def check_streaming_dataset(dataset: StreamingDataset, where: str) -> None:
    """Refuse a streaming dataset that does not honour the contract (nothing is decoded: see
    :func:`check_first_example`)."""
    info = dataset.info
    if not isinstance(info, DatasetInfo):
        raise DataError(f"{where}: the dataset's info is not a zoo_core.data.DatasetInfo")
    if not callable(dataset.decode):
        raise DataError(f"{where}: decode must be a function from one file to one example")
    if dataset.decode_batch is not None and not callable(dataset.decode_batch):
        raise DataError(f"{where}: decode_batch must be a function from a batch of files to their examples, or None")
    if dataset.read is not None and not callable(dataset.read):
        raise DataError(f"{where}: read must be a function from one file to its bytes, or None")
    if dataset.cache not in CACHES:
        raise DataError(f"{where}: cache must be one of {', '.join(CACHES)}, got {dataset.cache!r}")
    for split in ("train", "test"):
        files, y = getattr(dataset, f"{split}_files"), getattr(dataset, f"y_{split}")
        if files.ndim != 1 or y.ndim != 1 or len(y) != len(files):
            raise DataError(f"{where}: y_{split} must be one integer label per entry of {split}_files "
                            f"(got {len(y)} labels for {len(files)} files)")
        _check_labels(split, y, len(files), info, where)
    _check_info(dataset, where)


def _check_labels(split: str, y: Any, count: int, info: DatasetInfo, where: str) -> None:
    """Refuse an empty split, or labels that are not integers 0..num_classes - 1 (arrays and files alike)."""
    if count == 0:
        raise DataError(f"{where}: the {split} split is empty")
    if y.dtype.kind not in "iu" or y.min() < 0 or y.max() >= info.num_classes:
        raise DataError(f"{where}: y_{split} must hold integer labels 0..{info.num_classes - 1}")


def _check_info(dataset: Any, where: str) -> None:
    """The checks of ``info`` and ``augmentation`` that both forms of a dataset share."""
    info = dataset.info
    if len(info.class_names) != info.num_classes:
        raise DataError(f"{where}: {len(info.class_names)} class names for {info.num_classes} classes")
    check_feature_fields(info, where)
    check_augmentation(dataset.augmentation, info, where)


def check_first_example(dataset: StreamingDataset, where: str) -> None:
    """Decode the first training example and refuse one not of ``info.input_shape`` (the pipeline would fail later,
    less clearly). It runs TensorFlow: call it once the runtime may start (a multi-worker run configures it first)."""
    import numpy as np

    example = np.asarray(dataset.decode(str(dataset.train_files[0])))
    if example.shape != tuple(dataset.info.input_shape):
        raise DataError(f"{where}: decode('{dataset.train_files[0]}') gives an example of shape {example.shape}, "
                        f"but info.input_shape is {tuple(dataset.info.input_shape)}")


def limit(dataset: Any, max_train: int, max_test: int) -> Any:
    """The first ``max_train`` / ``max_test`` examples (0: all), of a :class:`Dataset` or a
    :class:`StreamingDataset`."""
    from dataclasses import replace

    def head(array: Any, count: int) -> Any:
        return array[:count] if count else array

    if is_streaming(dataset):
        return replace(dataset, train_files=head(dataset.train_files, max_train),
                       y_train=head(dataset.y_train, max_train), test_files=head(dataset.test_files, max_test),
                       y_test=head(dataset.y_test, max_test))
    return Dataset(head(dataset.x_train, max_train), head(dataset.y_train, max_train),
                   head(dataset.x_test, max_test), head(dataset.y_test, max_test), dataset.info, dataset.augmentation)
