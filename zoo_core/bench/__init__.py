"""``zoo bench`` and ``zoo compare``: measure finished runs' exports side by side, and compare runs.

Sits above ``training`` (it may train a recipe that has no finished run) and
below the CLI, so a notebook can do what the commands do.
"""
