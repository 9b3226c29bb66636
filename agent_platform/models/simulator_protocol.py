"""Wire formats the provider simulator speaks: OpenAI chat completions and Anthropic messages.

Pure functions from request JSON to the prompt text and back to response/error bodies, shaped
the way the vendors document them (``choices``/``usage.prompt_tokens`` for OpenAI; ``content``
blocks, ``stop_reason`` and ``usage.input_tokens`` for Anthropic), so litellm parses them
unchanged. Every body carries a ``simulated`` marker.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ParsedRequest",
    "error_body",
    "parse_request",
    "success_body",
]

_ANTHROPIC_ERRORS = {
    429: "rate_limit_error",
    500: "api_error",
    503: "overloaded_error",
    400: "invalid_request_error",
    404: "not_found_error",
}


@dataclass(frozen=True)
class ParsedRequest:
    """The parts of a request the simulator acts on."""

    api: str
    model: str
    texts: tuple[str, ...]
    max_tokens: int | None
    stream: bool

    @property
    def prompt(self) -> str:
        return "\n".join(self.texts)


def _text_of(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        ]
    return []


def parse_request(api: str, body: dict[str, Any]) -> ParsedRequest:
    """Extract model, message texts and the completion limit; raises ValueError when invalid."""
    model = body.get("model")
    messages = body.get("messages")
    if not isinstance(model, str) or not isinstance(messages, list):
        raise ValueError("a request needs a string 'model' and a list 'messages'")
    texts: list[str] = []
    if api == "anthropic":
        texts += _text_of(body.get("system"))
    for message in messages:
        if isinstance(message, dict):
            texts += _text_of(message.get("content"))
    limit = body.get("max_tokens", body.get("max_completion_tokens"))
    max_tokens = int(limit) if isinstance(limit, int) and limit > 0 else None
    return ParsedRequest(api, model, tuple(texts), max_tokens, bool(body.get("stream")))


def success_body(
    api: str,
    request_id: str,
    model: str,
    text: str,
    prompt_tokens: int,
    completion_tokens: int,
    truncated: bool,
) -> dict[str, Any]:
    """A completed answer in the vendor's shape."""
    if api == "anthropic":
        return {
            "id": f"msg_sim_{request_id}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": text}],
            "stop_reason": "max_tokens" if truncated else "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": prompt_tokens, "output_tokens": completion_tokens},
            "simulated": True,
        }
    return {
        "id": f"chatcmpl-sim-{request_id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "simulated",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "length" if truncated else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
        "simulated": True,
    }


def error_body(api: str, status: int, message: str) -> dict[str, Any]:
    """An error in the vendor's shape."""
    if api == "anthropic":
        kind = _ANTHROPIC_ERRORS.get(status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": message}, "simulated": True}
    kind = "rate_limit_exceeded" if status == 429 else "server_error"
    if 400 <= status < 500 and status != 429:
        kind = "invalid_request_error"
    return {
        "error": {"message": message, "type": kind, "code": str(status), "param": None},
        "simulated": True,
    }
