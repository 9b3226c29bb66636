"""Graph snapshots: the topology (nodes, edges, conditions, policy, routing) as YAML and back.

A snapshot is the reproducible description of a graph: :func:`export_snapshot` writes it,
:func:`load_snapshot` validates it back into a :class:`Topology` (a bad file is a ConfigError
naming file, key, value and what is allowed), and :mod:`graph_builder` rebuilds the same graph
from it. The model routing per node is the ``task`` of each node.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from agent_platform.config import load_yaml, parse_yaml_text, translate_validation_error
from agent_platform.errors import ConfigError
from agent_platform.fileio import write_text_atomic
from agent_platform.inputs import clip
from agent_platform.orchestration.topology import Topology

__all__ = ["export_snapshot", "load_snapshot", "snapshot_text", "topology_from_text"]

_HEADER = (
    "# agent_platform graph snapshot: topology, policy and model routing per node.\n"
    "# Rebuild with agent_platform.orchestration.snapshot.load_snapshot().\n"
)


def snapshot_text(topology: Topology) -> str:
    """The YAML text of ``topology`` (stable key order, so equal topologies give equal text)."""
    body = yaml.safe_dump(topology.dump(), sort_keys=True, allow_unicode=True)
    return _HEADER + body


def export_snapshot(topology: Topology, path: Path) -> Path:
    """Write the snapshot of ``topology`` to ``path`` (atomically) and return the path."""
    write_text_atomic(path, snapshot_text(topology))
    return path


def topology_from_text(text: str, source: str = "<snapshot>") -> Topology:
    """Validate snapshot YAML text into a :class:`Topology` (parsed by the bounded loader)."""
    return _topology(parse_yaml_text(text, source), source)


def load_snapshot(path: Path) -> Topology:
    """Read and validate a snapshot file (a regular file, within the YAML size limit)."""
    return _topology(load_yaml(path, what="snapshot file"), str(path))


def _topology(data: object, source: str) -> Topology:
    if not isinstance(data, dict):
        raise ConfigError(source, "<root>", clip(data), "a mapping describing a graph topology")
    try:
        return Topology.model_validate(data)
    except ValidationError as exc:
        raise translate_validation_error(source, exc, data) from exc
