"""The ``mlflow`` callback: track runs in MLflow (an optional extra: ``pip install 'zoo[mlflow]'``).

Light on purpose: MLflow is imported by the factory's class, in
zoo_plugins.callbacks._mlflow_tracker, only when a run uses it. The
factory checks the tracking store first (zoo_plugins.callbacks._mlflow_store:
a folder, a SQLite file that cannot be written, a server that does not
answer), so zoo's dry run of the callbacks refuses it before any work. Without MLflow
installed, ``zoo list`` shows the component as needing the extra and a run
that asks for it fails before any work with the install command (the
component's ``requires``).
"""

from __future__ import annotations

import os
from typing import Any

from zoo_core import Component, hookimpl


def mlflow(context: Any, experiment: str = "zoo", tracking_uri: str = "", run_name: str = "",
           log_exports: bool = True) -> Any:
    """Log the run to MLflow: config as params, metrics per epoch, test metrics, plots, report and exports.

    One MLflow run per zoo run, tagged zoo.run_id and zoo.recipe; a resumed
    run goes on in the same MLflow run, every epoch logged once (step = the
    epoch). Only the chief of a multi-worker run logs.

    Args:
        experiment: the MLflow experiment (created if missing).
        tracking_uri: where to log (default: $MLFLOW_TRACKING_URI, else sqlite:///RUNS/mlflow.db beside the runs,
            with artifacts in RUNS/mlartifacts).
        run_name: the MLflow run's name (default: the zoo run id).
        log_exports: log the exported models as artifacts (they can be large).
    """
    from zoo_core.errors import ConfigError

    if not experiment.strip():
        raise ConfigError("callback mlflow: experiment must not be empty",
                          hint=f"--set callbacks.{context.name}.experiment=zoo")
    if tracking_uri and "://" not in tracking_uri and not tracking_uri.startswith(("databricks", "/")):
        raise ConfigError(f"callback mlflow: tracking_uri {tracking_uri!r} is not a URI",
                          hint="e.g. http://127.0.0.1:5000 or sqlite:///runs/mlflow.db")
    if not context.is_chief:
        import keras

        return keras.callbacks.Callback()
    from zoo_plugins.callbacks._mlflow_store import check_store

    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI", "")  # "": the default store, beside the runs
    if uri:  # (the default's folder, the runs root, is checked writable before any run)
        check_store(uri, f"callbacks.{context.name}.tracking_uri" if tracking_uri else "MLFLOW_TRACKING_URI")
    from zoo_plugins.callbacks._mlflow_tracker import MlflowTracker

    return MlflowTracker(context, experiment=experiment, tracking_uri=uri, run_name=run_name,
                         log_exports=log_exports)


@hookimpl
def register_callbacks() -> list[Component]:
    """The mlflow tracker, needing the mlflow extra."""
    return [Component("mlflow", mlflow, requires=("mlflow",), install="zoo[mlflow]")]
