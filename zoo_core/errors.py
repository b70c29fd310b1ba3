"""Errors that zoo reports to the user as a short message, not a traceback."""

from __future__ import annotations


class ZooError(Exception):
    """A problem the user can fix: bad input, a missing file, an unknown name.

    The CLI prints ``str(error)`` (plus ``hint`` when given) and exits with
    ``exit_code``; a traceback is shown only with ``--debug``.
    """

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


class ConfigError(ZooError):
    """A registry file, a run config or a ``--set`` override is wrong.

    ``key`` is the parameter, setting or run-table key the error is about,
    when there is one: the registry uses it to point at the line.
    """

    def __init__(self, message: str, *, hint: str | None = None, key: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.key = key


class UnknownNameError(ConfigError):
    """A name that matches no registered component, preset, recipe or sweep."""


class AmbiguousNameError(ConfigError):
    """A bare name that two or more plugins register; ``plugin:name`` picks one."""


class ParameterMismatchError(ConfigError):
    """Parameters that a third-party plugin's component does not take (or not so).

    They were written for another component of that name (its plugin
    uninstalled, another plugin's now bound to the bare name) or for another
    version of the plugin: a plugin change, not the file's mistake, so the
    registry makes only the entry that holds them unavailable.
    """


class PluginError(ZooError):
    """A plugin failed to load or registered something malformed."""


class DataError(ZooError):
    """A dataset file is missing, truncated, corrupt or of the wrong shape."""


class RunError(ZooError):
    """A run failed, or a run reference does not point at a run."""

    exit_code = 1


class ExportError(ZooError):
    """An export failed or its verification did not pass."""

    exit_code = 1


class RequestError(ZooError):
    """A request to ``zoo serve`` that the server refuses; ``status`` is the HTTP code it answers (4xx).

    The server answers ``{"error": message, "hint": hint}`` with that code and
    goes on serving.
    """

    def __init__(self, status: int, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status
