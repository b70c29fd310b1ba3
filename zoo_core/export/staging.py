"""Staging an artifact: write it beside its final place, verify it, then move it and its sidecars into place.

``staged`` is the whole write -> verify -> move-into-place contract of
docs/plugins.md (register_exporters) in one context manager; the smaller
helpers it uses live in ``zoo_core.files``.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from zoo_core.errors import ExportError
from zoo_core.files import make_folders, move_into_place, remove_empty_folders, remove_quietly, temporary_beside

#: The hint when the final name was taken by someone else while the artifact was being written.
NAME_TAKEN_HINT = "another export may have written this name meanwhile; export again"


def next_free_path(folder: Path, stem: str, suffix: str, companions: tuple[str, ...] = ()) -> Path:
    """``folder/stem+suffix``, or ``stem-2``, ``stem-3``... if taken: never an existing name.

    A name counts as taken when the file or any of its ``companions`` (other
    suffixes written beside it, e.g. ``".json"``) exists.
    """
    number = 1
    while True:
        name = stem if number == 1 else f"{stem}-{number}"
        candidates = [folder / f"{name}{suffix}"] + [folder / f"{name}{extra}" for extra in companions]
        if not any(path.exists() for path in candidates):
            return candidates[0]
        number += 1


@dataclass(frozen=True)
class Stage:
    """Where a staged artifact is written, and where it ends up.

    Attributes:
        path: the temporary to write the artifact to (a file, or a folder such
            as a SavedModel): hidden, beside ``final``, keeping its suffix.
        final: the artifact's final path, known before anything is written
            (for messages and metadata).
        sidecars: the final path of each companion file, by suffix.
        temporaries: the temporary of each companion file, by suffix (see :meth:`companion`).
    """

    path: Path
    final: Path
    sidecars: dict[str, Path] = field(default_factory=dict)
    temporaries: dict[str, Path] = field(default_factory=dict)

    def companion(self, suffix: str) -> Path:
        """The temporary to write the companion file ``suffix`` (e.g. ``".json"``) to; declare it in ``staged``."""
        if suffix not in self.temporaries:
            raise ValueError(f"companion {suffix!r} was not declared: staged(..., companions=({suffix!r},))")
        return self.temporaries[suffix]

    def discard(self) -> None:
        """Remove the artifact's temporary and its companions' (whatever was written)."""
        for temporary in (self.path, *self.temporaries.values()):
            remove_quietly(temporary)


def _temporary(final: Path) -> Path:
    """A hidden name beside ``final`` that keeps its suffix (Keras insists on ``.keras``)."""
    temporary = temporary_beside(final)
    return temporary.with_name(temporary.name + final.suffix)


def _stage(folder: Path, stem: str, suffix: str, companions: tuple[str, ...], next_free: bool) -> Stage:
    """Choose the final name (the next free one if ``next_free``) and the temporaries beside it."""
    final = next_free_path(folder, stem, suffix, companions) if next_free else folder / f"{stem}{suffix}"
    base = final.name[: len(final.name) - len(suffix)]
    sidecars = {extra: folder / f"{base}{extra}" for extra in companions}
    return Stage(path=_temporary(final), final=final, sidecars=sidecars,
                 temporaries={extra: _temporary(path) for extra, path in sidecars.items()})


def _move_all(stage: Stage, exporter: str, taken_hint: str) -> None:
    """Move the artifact, then its companions, into place; on failure leave none of them there.

    The artifact goes first: a stop between the moves leaves a usable model
    without its sidecar, never a sidecar that describes no model.
    """
    try:
        move_into_place(stage.path, stage.final)
    except OSError as error:  # FileExistsError included: someone took the name meanwhile
        raise ExportError(f"{exporter}: cannot move the verified model to {stage.final}: {error}",
                          hint=taken_hint) from None
    moved = [stage.final]
    for suffix, sidecar in stage.sidecars.items():
        try:
            move_into_place(stage.temporaries[suffix], sidecar)
        except BaseException as error:
            for path in moved:
                remove_quietly(path)
            if not isinstance(error, OSError):
                raise
            raise ExportError(f"{exporter}: cannot move the sidecar to {sidecar}: {error}",
                              hint=taken_hint) from None
        moved.append(sidecar)


@contextmanager
def staged(folder: Path, stem: str, suffix: str = "", *, exporter: str, companions: tuple[str, ...] = (),
           next_free: bool = True, taken_hint: str = NAME_TAKEN_HINT) -> Iterator[Stage]:
    """Write an artifact beside its final place; move it (then its companions) into place if the block succeeds.

    The final path is ``folder/stem+suffix`` or, with ``next_free``, the next
    name not taken by it or its ``companions`` (``stem-2``..., see
    :func:`next_free_path`); it is ``stage.final`` inside the block. Write
    the artifact (a file or a folder) to ``stage.path`` and each companion
    (e.g. a ``.json`` sidecar) to ``stage.companion(suffix)``; raise (e.g.
    :func:`verification_error`) to refuse it. ``exporter`` starts the error
    messages; ``taken_hint`` is the hint when the name was taken meanwhile.

    On success the artifact is moved first, then its companions; if one cannot
    be moved, what was moved is removed again and ExportError is raised. On
    any exception the temporaries and the folders ``staged`` created are
    removed, so nothing is left behind::

        with staged(Path(context.destination), context.model_name, ".keras", exporter="keras-file",
                    companions=(".json",)) as stage:
            context.model.save(stage.path)
            ...  # verify stage.path; raise verification_error(...) if it fails
            stage.companion(".json").write_text(json.dumps(metadata))
        return ExportResult(format="keras", variant="float32", path=str(stage.final), ...)
    """
    folder = Path(folder)
    stage = _stage(folder, stem, suffix, tuple(companions), next_free)
    created = make_folders(folder)
    try:
        yield stage
        _move_all(stage, exporter, taken_hint)
    except BaseException:
        stage.discard()
        remove_empty_folders(created)
        raise
