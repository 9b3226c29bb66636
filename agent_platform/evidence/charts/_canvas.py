"""The matplotlib canvas every chart draws on: the Agg backend, one style, atomic PNG writes.

matplotlib is imported here, lazily, so importing the evidence package never pays for it and
never touches a display: the Agg backend renders to memory, which works on a headless server,
in a Dagster step and in a test alike.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Any

from agent_platform.errors import EvidenceError

__all__ = ["PALETTE", "new_figure", "save_png"]

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
DPI = 100


def new_figure(
    width: float = 9.0, height: float = 4.8, *, nrows: int = 1, ncols: int = 1
) -> tuple[Any, Any]:
    """A figure and its axes (one, or a grid of ``nrows`` by ``ncols``) on the Agg backend."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    axes = figure.subplots(nrows, ncols, squeeze=True)
    return figure, axes


def save_png(figure: Any, path: Path) -> Path:
    """Render ``figure`` to PNG and write it atomically at ``path``."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    try:
        _write_bytes_atomic(path, buffer.getvalue())
    except OSError as exc:
        raise EvidenceError(f"{path}: cannot write chart: {exc}") from exc
    return path


def _write_bytes_atomic(path: Path, data: bytes) -> None:
    # A reader (the report, the browser) sees the old PNG or the new one, never half of one.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o644)
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
