"""Built-in exporter: TFLite for phones, with optional quantisation, verified after writing."""

from __future__ import annotations

from typing import Any, Literal

from zoo_core import Component, hookimpl


def tflite(context: Any, quantize: Literal["none", "float16", "dynamic", "int8"] = "none",
           io_type: Literal["float32", "int8", "uint8"] = "float32", calibration_samples: int = 500,
           dynamic_batch: bool = True, verify_samples: int = 0) -> Any:
    """TFLite flatbuffer for mobile (float32, float16, dynamic-range or full int8).

    Args:
        quantize: none (float32), float16, dynamic (int8 weights) or int8 (full integer).
        io_type: input/output type of an int8 model: float32, int8 or uint8.
        calibration_samples: training images used to calibrate int8 (warning below 100).
        dynamic_batch: allow any batch size (resize_tensor_input); else batch 1.
        verify_samples: test examples run through the TFLite interpreter (0: all).
    """
    from zoo_core.errors import ExportError

    raise ExportError("tflite export is not implemented yet")


@hookimpl
def register_exporters() -> list[Component]:
    return [Component("tflite", tflite)]
