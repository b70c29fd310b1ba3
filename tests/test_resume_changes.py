"""What ``zoo resume --set`` may change, and a run continuing on another cluster shape (fast: no TensorFlow run).

tests/test_distributed.py has the end-to-end case: two workers, one killed for
good, the run finished on the survivor alone.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zoo_core.errors import ConfigError
from zoo_core.plugins import Catalog
from zoo_core.registry import Registry, load_registry
from zoo_core.runs import Run
from zoo_core.training import distribute
from zoo_core.training.distribute import coordination
from zoo_core.training.resume_changes import resume_overrides, resumed_config, strategy_setting

WORKERS = {"worker": ["10.0.0.1:2222", "10.0.0.2:2222"]}


@pytest.fixture(autouse=True)
def _no_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TF_CONFIG", raising=False)


@pytest.fixture(scope="module")
def registry(builtin_catalog: Catalog, tmp_path_factory: pytest.TempPathFactory) -> Registry:
    return load_registry(builtin_catalog, cwd=tmp_path_factory.mktemp("empty"))


def a_run(tmp_path: Path, registry: Registry, *settings: str) -> Run:
    """A run directory as zoo writes it before training: config.toml and an interrupted manifest."""
    folder = tmp_path / "runs" / "mnist-mlp-20260101-000000-abcdef"
    folder.mkdir(parents=True)
    config = registry.resolve_recipe("mnist-mlp", list(settings))
    (folder / "config.toml").write_text(config.to_toml())
    (folder / "manifest.json").write_text(json.dumps({"run_id": folder.name, "recipe": "mnist-mlp",
                                                      "status": "interrupted", "epochs_done": 2}))
    return Run(folder)


@pytest.mark.parametrize("override", ["batch_size=32", "seed=1", "optimizer=sgd", "optimizer.learning_rate=0.1",
                                      "architecture.dropout=0.5", "max_train_samples=100", "strategy.x=1"])
def test_a_resume_refuses_what_the_epochs_done_were_trained_with(tmp_path: Path, registry: Registry,
                                                                 override: str) -> None:
    run = a_run(tmp_path, registry)
    with pytest.raises(ConfigError) as caught:
        resume_overrides(run, ["strategy=none", override], None)
    text = str(caught.value)
    assert f"--set '{override}'" in text and "cannot change when run" in text
    assert "strategy, progress, threads, join_timeout, epochs (not below the epochs done), exporters" in text
    assert f"zoo run --config {run.dir / 'config.toml'} --set {override}" in text  # how to change it: a new run
    assert caught.value.exit_code == 2


def test_a_resume_accepts_the_resumable_keys(tmp_path: Path, registry: Registry) -> None:
    run = a_run(tmp_path, registry, "strategy=multi-worker")
    overrides = ["strategy=none", "progress=lines", "threads=2", "join_timeout=30", "epochs=12", "exporters=[]"]
    assert resume_overrides(run, overrides, None) == overrides
    assert strategy_setting(overrides) == "none" and strategy_setting(["epochs=3"]) is None
    config = resumed_config(run, registry, overrides, done=2)
    assert config.settings["strategy"] == "none" and config.settings["epochs"] == 12
    assert config.settings["threads"] == 2 and config.exporters == []
    assert config.settings["batch_size"] == \
        registry.resolve_recipe("mnist-mlp").settings["batch_size"]  # kept as recorded


def test_a_bad_value_of_a_resumable_key_is_refused_at_once(tmp_path: Path, registry: Registry) -> None:
    run = a_run(tmp_path, registry)
    with pytest.raises(ConfigError, match="strategy"):
        resume_overrides(run, ["strategy=parameter-server"], None)


def test_epochs_may_grow_not_shrink_below_the_epochs_done(tmp_path: Path, registry: Registry) -> None:
    run = a_run(tmp_path, registry, "epochs=4")
    assert resumed_config(run, registry, ["epochs=2"], done=2).settings["epochs"] == 2  # finish it as it is
    assert resumed_config(run, registry, ["epochs=9"], done=2).settings["epochs"] == 9
    with pytest.raises(ConfigError) as caught:
        resumed_config(run, registry, ["epochs=1"], done=2)
    assert "has 2 epoch(s) done; on resume epochs may grow, not shrink below what is done" in str(caught.value)
    assert "--set epochs=2" in caught.value.hint


def test_workers_flags_on_resume_imply_multi_worker_for_a_one_process_run(tmp_path: Path, registry: Registry) -> None:
    flags = distribute.cluster_from_flags("127.0.0.1:1,127.0.0.1:2", 0)
    one_process = a_run(tmp_path / "a", registry)
    assert resume_overrides(one_process, [], flags) == ["strategy=multi-worker"]
    assert resume_overrides(one_process, ["strategy=auto"], flags) == ["strategy=auto"]
    assert resume_overrides(one_process, [], None) == []
    multi = a_run(tmp_path / "b", registry, "strategy=multi-worker")
    assert resume_overrides(multi, [], flags) == []


def test_a_multi_worker_run_resumes_as_one_process_where_it_is(tmp_path: Path, registry: Registry) -> None:
    run = a_run(tmp_path, registry, "strategy=multi-worker")
    with pytest.raises(ConfigError) as caught:  # no cluster: every way on is named, with options zoo resume has
        distribute.resume_target(run)
    assert "--workers HOST:PORT,HOST:PORT --task-index N" in caught.value.hint
    assert "--set strategy=none" in caught.value.hint
    assert distribute.resume_target(run, None, "none") is None  # one process: in the run directory itself


def test_a_change_of_cluster_shape_is_one_line_and_a_record() -> None:
    two = distribute.shape({"strategy": "multi-worker", "replicas": 2, "per_replica_batch_size": [32, 32],
                            "workers": WORKERS, "weights_sha256": {"worker-0": "x"}}, 64)
    assert two == {"strategy": "multi-worker", "replicas": 2, "per_replica_batch_size": [32, 32], "workers": WORKERS}
    one = distribute.shape(distribute.one_process_record(64), 64)
    change = distribute.shape_change("RUN", two, one, 3, 64)
    assert change["from_epoch"] == 3 and change["before"] == two and change["after"] == one
    assert change["note"] == ("run RUN continues from epoch 3 on 1 process instead of 2 workers: the global batch "
                              "stays 64 (same steps, same batches); its split over the replicas is 64 instead of "
                              "32+32, so results may differ in the last digits (manifest.json: distribution_changes)")
    assert "\n" not in change["note"]
    moved = {**two, "workers": {"worker": ["10.0.0.3:2222", "10.0.0.4:2222"]}}
    assert distribute.shape_change("RUN", two, moved, 3, 64) is None  # other machines, the same computation
    three = {**two, "replicas": 3, "per_replica_batch_size": [21, 21, 22],
             "workers": {"worker": [*WORKERS["worker"], "10.0.0.3:2222"]}}
    assert "on 3 workers instead of 2 workers" in distribute.shape_change("RUN", two, three, 2, 64)["note"]
    assert distribute.shape(None, 64) == one  # a run that started on one process


def test_the_backups_of_workers_no_longer_in_the_cluster_are_removed(tmp_path: Path) -> None:
    run = tmp_path / "mnist-mlp-1"
    for name in ("mnist-mlp-1", ".mnist-mlp-1.worker-1", ".mnist-mlp-1.worker-2", ".mnist-mlp-10.worker-1",
                 "mnist-mlp-2"):
        (tmp_path / name).mkdir()
    survivors = distribute.Cluster({"worker": ("a:1", "b:2")}, "worker", 0)
    assert distribute.remove_backups(run, survivors) == [tmp_path / ".mnist-mlp-1.worker-2"]
    assert distribute.remove_backups(run, None) == [tmp_path / ".mnist-mlp-1.worker-1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".mnist-mlp-10.worker-1", "mnist-mlp-1", "mnist-mlp-2"]


def test_the_exit_75_message_says_how_to_go_on_without_a_lost_machine() -> None:
    cluster = distribute.Cluster({"worker": ("127.0.0.1:1", "127.0.0.1:2")}, "worker", 0, from_flags=True)
    hint = coordination.restart_hint(cluster, "/shared/runs/mnist-mlp-1")
    assert ("zoo resume /shared/runs/mnist-mlp-1 --workers 127.0.0.1:1,127.0.0.1:2 --task-index N on each "
            "(this one: --task-index 0)") in hint
    assert "if a machine is lost for good, continue on one machine with: zoo resume /shared/runs/mnist-mlp-1 " \
           "--set strategy=none" in hint
    assert "'/my runs/x' --set strategy=none" in coordination.restart_hint(cluster, "/my runs/x")  # shell-quoted


def test_workers_that_disagree_are_told_which_settings_differ() -> None:
    chief = {"settings": {"epochs": 6, "strategy": "multi-worker"}}
    worker = {"settings": {"epochs": 4, "strategy": "multi-worker"}}
    assert coordination.differences(chief, worker) == "epochs: the chief 6, this worker 4"
    assert coordination.differences(chief, chief) == "components or exporters differ"
