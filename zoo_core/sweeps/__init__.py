"""``zoo sweep``: search over registry names and parameters with Optuna; each trial is an ordinary run.

Sits above ``training`` (a trial is a run) and below the CLI, so a notebook
can run a sweep as the command does.
"""
