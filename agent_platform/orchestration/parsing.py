"""Parse the JSON a model answered into a typed node output, without ever crashing the run.

Models wrap JSON in prose or code fences and sometimes answer nonsense; a bad answer becomes a
:class:`ParseFailure` that the node records (ledger and state) and the run ends on, with the
reason, instead of an exception escaping from LangGraph.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

__all__ = ["ParseFailure", "extract_json_object", "parse_output"]

M = TypeVar("M", bound=BaseModel)

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True)
class ParseFailure:
    """A model answer that is not the expected JSON object."""

    node: str
    reason: str
    excerpt: str

    def as_dict(self) -> dict[str, Any]:
        return {"node": self.node, "reason": self.reason, "excerpt": self.excerpt}


def extract_json_object(content: str) -> Any:
    """The first JSON object in ``content`` (bare, or inside a code fence).

    Raises:
        ValueError: when no JSON object can be decoded.
    """
    candidates = [m.group(1) for m in _FENCE.finditer(content)] + [content]
    decoder = json.JSONDecoder()
    for text in candidates:
        start = text.find("{")
        while start != -1:
            try:
                value, _end = decoder.raw_decode(text, start)
            except json.JSONDecodeError:
                start = text.find("{", start + 1)
                continue
            return value
    raise ValueError("no JSON object found in the answer")


def parse_output(node: str, content: str, model: type[M]) -> M | ParseFailure:
    """Validate the model's answer into ``model`` or describe why it could not be."""
    excerpt = content[:200]
    try:
        data = extract_json_object(content)
    except ValueError as exc:
        return ParseFailure(node, str(exc), excerpt)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "<root>"
        return ParseFailure(node, f"{model.__name__}.{where}: {first.get('msg')}", excerpt)
