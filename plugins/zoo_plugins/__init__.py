"""zoo's built-in plugins. Each module here is an ordinary plugin, registered
through the ``zoo`` entry-point group in pyproject.toml exactly as a
third-party plugin is; zoo_core never imports this package."""
