"""One run: each component built once, the dry-run checks apart, and the callbacks in the one table's order."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import subprocess_env

ROOT = Path(__file__).resolve().parent.parent

COUNT_BUILDS = """
import collections, json, sys
from zoo_core import training
from zoo_core.registry.runconfig import ComponentChoice
from zoo_core.training.parameter_checks import StandIn
from zoo_core.workspace import Workspace

built, checked = collections.Counter(), collections.Counter()
real = ComponentChoice.build

def counting(self, *context):
    counter = checked if context and isinstance(context[0], StandIn) else built
    counter[f"{self.kind} {self.ref}"] += 1
    return real(self, *context)

ComponentChoice.build = counting
registry = Workspace().registry()
config = registry.resolve_recipe("mnist-mlp", sys.argv[2:])
outcome = training.train(config, root=sys.argv[1], progress="none")
print(json.dumps({"built": built, "checked": checked, "loss": outcome.metrics["loss"]}))
"""


@pytest.mark.slow
def test_each_component_is_built_once_per_run(tmp_path: Path) -> None:
    """Dataset, architecture, optimizer, loss, each exporter and callback: one build; exporters and callbacks
    also one dry run each, which stops before any work (zoo_core.training.parameter_checks)."""
    settings = ["epochs=2", "max_train_samples=600", "max_test_samples=200", 'exporters=["tflite"]',
                'callbacks=["early-stopping", "reduce-lr-on-plateau"]']
    done = subprocess.run([sys.executable, "-c", COUNT_BUILDS, str(tmp_path / "runs"), *settings], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, env=subprocess_env())
    assert done.returncode == 0, done.stderr[-3000:]
    counts = json.loads(done.stdout.strip().splitlines()[-1])
    assert counts["built"] == {"dataset mnist": 1, "architecture mlp-128-64-10": 1, "optimizer adam": 1,
                               "loss sparse-categorical-crossentropy": 1, "exporter tflite": 1,
                               "callback early-stopping": 1, "callback reduce-lr-on-plateau": 1}
    assert counts["checked"] == {"exporter tflite": 1, "callback early-stopping": 1,
                                 "callback reduce-lr-on-plateau": 1}
    assert counts["loss"] > 0


def test_callbacks_are_listed_in_the_order_of_the_table() -> None:
    from zoo_core.training.callbacks.order import ORDER, in_order

    slots = {name: [f"{name}-{n}" for n in range(2)] for name, _ in reversed(ORDER)}
    assert in_order(slots) == [f"{name}-{n}" for name, _ in ORDER for n in range(2)]
    assert in_order({"progress": ["bar"], "validation": ["val"]}) == ["val", "bar"]
    with pytest.raises(ValueError, match="not in ORDER"):
        in_order({"my-own-slot": ["x"]})


def test_the_guide_shows_the_order_table_of_the_code() -> None:
    from zoo_core.training.callbacks.order import ORDER

    guide = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\d+) \| `([a-z-]+)` \| (.+) \|$", guide, flags=re.M)
    assert [(int(number), name, what) for number, name, what in rows] == [
        (number, name, what) for number, (name, what) in enumerate(ORDER, start=1)]
