"""The Keras callback behind the ``mlflow`` component (imported by its factory only).

It logs through ``mlflow.tracking.MlflowClient`` against one explicit
tracking URI (never MLflow's global active run), so it does not disturb a
user's own MLflow calls. ``zoo_after_checkpoint``: an epoch is logged after
its checkpoint is committed, so an epoch a kill makes repeat is never logged
twice; a resume logs, from the checkpoint's history, any committed epoch
that a kill kept from being logged, so there is no gap either.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
import warnings
from pathlib import Path
from typing import Any, Iterator

import keras

#: MLflow's limit on a parameter value's length.
MAX_PARAM = 6000


def flatten(config: dict[str, Any]) -> dict[str, str]:
    """The resolved config as MLflow params: ``optimizer.learning_rate``, ``callbacks.early-stopping.patience``."""
    params: dict[str, str] = {}

    def put(key: str, value: Any) -> None:
        key = "".join(ch if ch.isalnum() or ch in "_-. /" else "_" for ch in key)
        params[key] = str(value)[:MAX_PARAM]

    for key, value in config.items():
        if isinstance(value, dict):  # a component: {component = "plugin:name", **params}
            for name, item in value.items():
                put(f"{key}.{name}", item)
        elif isinstance(value, list) and all(isinstance(item, dict) for item in value):  # exporters, callbacks
            put(key, ", ".join(str(item.get("component", "")) for item in value) or "(none)")
            seen: dict[str, int] = {}
            for item in value:
                bare = str(item.get("component", "")).rpartition(":")[2]
                seen[bare] = seen.get(bare, 0) + 1
                label = bare if seen[bare] == 1 else f"{bare}-{seen[bare]}"
                for name, parameter in item.items():
                    if name != "component":
                        put(f"{key}.{label}.{name}", parameter)
        else:
            put(key, value)
    return params


class MlflowTracker(keras.callbacks.Callback):
    """One MLflow run per zoo run: params at its start, metrics at each committed epoch, the rest at its end."""

    zoo_after_checkpoint = True

    def __init__(self, context: Any, experiment: str, tracking_uri: str, run_name: str, log_exports: bool) -> None:
        super().__init__()
        self.context = context
        self.run_id: str | None = context.state.get("run_id")
        self.experiment, self.run_name, self.log_exports = experiment, run_name, log_exports
        self.uri = tracking_uri  # the parameter, else $MLFLOW_TRACKING_URI (the factory decides), else:
        self.artifacts = None
        if not self.uri:  # a local store beside the runs; MLflow 3 refuses the file store by default
            root = Path(context.runs_root).resolve()
            self.uri = f"sqlite:///{root / 'mlflow.db'}"
            self.artifacts = (root / "mlartifacts").as_uri()
        self._client: Any = None
        self.cut_short = False  #: a call to the store failed or was stopped during training

    @property
    def client(self) -> Any:
        """An MlflowClient on this tracking URI, created quietly (MLflow logs its database set-up at INFO)."""
        if self._client is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # SQLAlchemy's, from inside MLflow
                from mlflow.tracking import MlflowClient

                for name in ("mlflow", "alembic"):  # after the import: MLflow sets its logger's level then
                    logging.getLogger(name).setLevel(logging.WARNING)
                self._client = MlflowClient(tracking_uri=self.uri)
                self._client.search_experiments(max_results=1)  # creates the store's tables now, quietly
        return self._client

    def zoo_state(self) -> dict[str, Any]:
        """The MLflow run to go on with after a resume."""
        return {"run_id": self.run_id, "tracking_uri": self.uri}

    # -- the MLflow run ------------------------------------------------------------------

    def ensure_run(self) -> str:
        """The MLflow run of this zoo run: the saved one, else one tagged with the run id, else a new one."""
        client = self.client
        if self.run_id is not None:
            try:
                if client.get_run(self.run_id).info.status != "RUNNING":
                    client.update_run(self.run_id, status="RUNNING")
                self._backfill()
                return self.run_id
            except Exception:  # noqa: BLE001 - deleted or another store: find it by tag, or start one
                self.run_id = None
        experiment = client.get_experiment_by_name(self.experiment)
        experiment_id = (experiment.experiment_id if experiment is not None
                         else client.create_experiment(self.experiment, artifact_location=self.artifacts))
        found = client.search_runs([experiment_id], filter_string=f"tags.`zoo.run_id` = '{self.context.run_id}'",
                                   max_results=1)
        if found:
            self.run_id = found[0].info.run_id
            client.update_run(self.run_id, status="RUNNING")
        else:
            tags = {"zoo.run_id": self.context.run_id, "zoo.recipe": self.context.recipe or "(zoo train)",
                    "zoo.run_dir": str(self.context.run_dir)}
            self.run_id = client.create_run(experiment_id, tags=tags,
                                            run_name=self.run_name or self.context.run_id).info.run_id
            self._log_params()
        self._backfill()
        return self.run_id

    def _log_params(self) -> None:
        from mlflow.entities import Param

        params = [Param(key, value) for key, value in flatten(self.context.config).items()]
        for start in range(0, len(params), 100):  # MLflow takes at most 100 params per batch
            self.client.log_batch(self.run_id, params=params[start:start + 100])

    def _backfill(self) -> None:
        """Log the committed epochs (the checkpoint's history) that the MLflow run does not have yet."""
        logged = {metric.step for metric in self.client.get_metric_history(self.run_id, "loss")}
        for row in self.context.history:
            if row.get("epoch") not in logged:
                self._log_epoch(int(row["epoch"]), row)

    def _log_epoch(self, step: int, values: dict[str, Any]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(key, float(value), now, step) for key, value in values.items()
                   if key != "epoch" and isinstance(value, (int, float)) and not isinstance(value, bool)]
        if metrics:
            self.client.log_batch(self.run_id, metrics=metrics)

    # -- Keras and zoo events ------------------------------------------------------------

    @contextlib.contextmanager
    def _calls(self) -> Iterator[None]:
        """Around the calls to the store during training: one that fails or is cut short (a signal stops the run
        at once after the checkpoint, even while MLflow retries) means the store is not answering."""
        try:
            yield
        except BaseException:
            self.cut_short = True
            raise

    def on_train_begin(self, logs: dict | None = None) -> None:
        with self._calls():
            self.ensure_run()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        with self._calls():
            self._log_epoch(epoch + 1, dict(logs or {}))

    def on_run_end(self, summary: Any) -> None:
        """Test metrics, then the plots, report, exports and the run's files as artifacts; the run's end status."""
        from mlflow.entities import Metric

        if self.cut_short and summary.status != "completed":
            return  # the store did not answer: trying again would only wait (a resume goes on in the same MLflow run)
        if summary.status == "completed" or self.run_id is not None:
            self.ensure_run()
        if self.run_id is None:
            return
        now = int(time.time() * 1000)
        scalars = [Metric(f"test_{key}", float(value), now, summary.epochs_done)
                   for key, value in summary.metrics.items()
                   if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)]
        if scalars:
            self.client.log_batch(self.run_id, metrics=scalars)
        for path in [*summary.files, *([summary.report] if summary.report else [])]:
            self.client.log_artifact(self.run_id, str(path))
        for path in summary.plots:
            self.client.log_artifact(self.run_id, str(path), "plots")
        for record in summary.exports if self.log_exports else []:
            path = Path(record.get("path") or "")
            if record.get("status") == "ok" and path.exists():
                if path.is_dir():
                    self.client.log_artifacts(self.run_id, str(path), f"exports/{path.name}")
                else:
                    self.client.log_artifact(self.run_id, str(path), "exports")
        if summary.stopped_early:
            self.client.set_tag(self.run_id, "zoo.stopped_early", summary.stopped_early.get("reason", ""))
        status = {"completed": "FINISHED", "interrupted": "KILLED"}.get(summary.status, "FAILED")
        self.client.set_terminated(self.run_id, status=status)
