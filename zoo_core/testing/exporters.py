"""Exporter checks: a verified artifact in the destination, reported truly, never overwritten."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from zoo_core.components import Component
from zoo_core.data import Dataset
from zoo_core.testing.examples import example_model
from zoo_core.testing.parameters import begin_checks
from zoo_core.testing.results import Broken, CheckResult


def check_exporter(component: str | Component, params: dict[str, Any] | None = None, *,
                   catalog: Any = None, dataset: Any = None, model: Any = None, max_samples: int = 500,
                   repeat: bool = True, light_import: bool = True) -> list[CheckResult]:
    """Check an exporter: it writes a verified artifact into the destination and reports it truly.

    ``dataset`` (a ``Dataset`` or a registered name; default synthetic) and
    ``model`` (default: a tiny model trained on it) make the export context.
    ``repeat`` exports twice to check that nothing is overwritten.
    """
    component, checks, values = begin_checks("exporter", component, params, catalog, light_import)
    context_data = checks.run("example_model", example_model, dataset, model, catalog, max_samples)
    with tempfile.TemporaryDirectory(prefix="zoo-conformance-") as folder:
        destination = Path(folder) / "exports"
        first = checks.run("exports", _export, component, values, context_data, destination,
                           needs=["defaults_accepted", "example_model"])
        checks.run("result_matches_artifact", _check_artifact, first, destination, needs=["exports"])
        checks.run("no_leftovers", _check_no_leftovers, destination, needs=["exports"])
        if repeat:
            checks.run("never_overwrites", _check_never_overwrites, component, values, context_data,
                       destination, first, needs=["result_matches_artifact"])
    return checks.results


def _export(component: Component, values: dict[str, Any], context_data: tuple[Dataset, Any],
            destination: Path) -> Any:
    from zoo_core.export import ExportContext, ExportResult

    data, model = context_data
    context = ExportContext(model=model, dataset=data, destination=destination, model_name="conformance",
                            metadata={"run_id": "conformance-kit"})
    result = component.load_factory()(context, **values)
    if not isinstance(result, ExportResult):
        raise Broken(f"the factory returned {type(result).__name__}; an exporter must return a "
                     f"zoo_core.export.ExportResult (and raise ExportError when verification fails)")
    if result.status != "ok":
        raise Broken(f"the export reported status {result.status!r}: {result.message or '(no message)'}; "
                     f"a verified export has status 'ok' (raise ExportError when it cannot verify)")
    return result


def _check_artifact(result: Any, destination: Path) -> None:
    from zoo_core.export import sha256_of, size_of

    path = Path(result.path)
    if not result.path or not path.exists():
        raise Broken(f"ExportResult.path {result.path!r} does not exist: return the artifact's final path")
    if destination.resolve() not in path.resolve().parents:
        raise Broken(f"the artifact {path} is outside context.destination {destination}: write only there")
    problems = []
    if not result.format:
        problems.append("ExportResult.format is empty")
    if result.size_bytes != size_of(path):
        problems.append(f"size_bytes is {result.size_bytes} but the artifact has {size_of(path)} bytes")
    if result.sha256 != sha256_of(path):
        problems.append("sha256 does not match the artifact (use zoo_core.export.sha256_of on the final file)")
    if not result.figures:
        problems.append("figures is empty: record what the verification measured "
                        "(e.g. zoo_core.export.compare_probabilities)")
    if problems:
        raise Broken("the ExportResult does not describe what was written: " + "; ".join(problems))


def _check_no_leftovers(destination: Path) -> None:
    hidden = sorted(str(p.relative_to(destination)) for p in destination.rglob(".*"))
    if hidden:
        raise Broken(f"temporary files were left in the destination: {', '.join(hidden)}; remove or move "
                     f"them (zoo_core.export.staged does both)")


def _check_never_overwrites(component: Component, values: dict[str, Any], context_data: tuple[Dataset, Any],
                            destination: Path, first: Any) -> None:
    from zoo_core.export import sha256_of

    second = _export(component, values, context_data, destination)
    if Path(second.path).resolve() == Path(first.path).resolve():
        raise Broken(f"a second export wrote to the same path {first.path}: never overwrite an earlier "
                     f"artifact; pick the next free name (zoo_core.export.next_free_path)")
    if not Path(first.path).exists() or sha256_of(Path(first.path)) != first.sha256:
        raise Broken(f"a second export changed or removed the first artifact {first.path}")
