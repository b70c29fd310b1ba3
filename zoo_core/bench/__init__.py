"""``zoo bench`` and ``zoo compare``: measure runs' models in every format, and set runs side by side.

- ``targets``: which runs the arguments name (recipes: their latest completed run; train missing ones).
- ``artifacts``: one artifact per exporter that applies, reused from the run or exported now.
- ``measure``: accuracy, latency, throughput of one model with its own runtime; the promise check.
- multiply-adds of a model come from zoo's one counter, zoo_core.training.macs.
- ``pareto``: the Pareto front of (cost, accuracy) points.
- ``suite``: a bench end to end, one row per model × format.
- ``table``, ``plot``: bench.csv, bench.json, bench.md and bench.png.
- ``compare``, ``compare_report``: settings that differ, metrics side by side; curves overlaid in compare.png.
- ``outputs``: where the files go.
"""
