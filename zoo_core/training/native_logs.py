"""TensorFlow's native log lines: hidden from a zoo user, shown with ``ZOO_DEBUG=1``.

Importing this module sets ``TF_CPP_MIN_LOG_LEVEL=2`` unless the user set
it: TensorFlow's C++ start-up chatter (CUDA probing, CPU features) is noise
to a zoo user. :func:`quiet_native_stderr` hides what that setting cannot.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from typing import Iterator

from zoo_core.errors import ZooError

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

#: What TensorFlow, TFLite and the TFLite converter write to stderr that means nothing to a zoo user: absl log
#: lines (CUDA probing, oneDNN, CPU features: ``E0000 00:00:17... cuda_platform.cc:52] failed call to cuInit``),
#: absl's start-up notice, the XNNPACK delegate notice and the quantiser's settings line.
NATIVE_NOISE = re.compile(r"^(?:[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\] "
                          r"|WARNING: All log messages before absl::InitializeLog\(\) is called"
                          r"|To enable the following instructions: .* rebuild TensorFlow"
                          r"|INFO: Created TensorFlow Lite XNNPACK delegate"
                          r"|fully_quantize: \d+, inference_type: )")


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Hide TensorFlow's native log lines (:data:`NATIVE_NOISE`) that C++ code writes to file descriptor 2.

    TF_CPP_MIN_LOG_LEVEL cannot silence messages logged before absl starts,
    nor TFLite's. Everything else written to stderr in the block (a
    plugin's warning, a real error) is written out when the block ends; if
    the block fails with anything but a ZooError (whose message says what
    went wrong), the hidden lines are written out too, so an import error is
    never lost. ``ZOO_DEBUG=1`` shows everything as it comes.
    """
    if os.environ.get("ZOO_DEBUG"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    show_all = False
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except ZooError:
            raise
        except BaseException:
            show_all = True
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            lines = sink.read().decode("utf-8", "replace").splitlines(keepends=True)
            shown = "".join(line for line in lines if show_all or not NATIVE_NOISE.match(line))
            if shown:
                sys.stderr.write(shown)
                sys.stderr.flush()

