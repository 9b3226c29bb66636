"""Provider wire formats for the adapter's direct route: litellm's request shape, read answers.

The request a provider receives is litellm's: once per (endpoint, model) the provider's litellm
chat config builds the URL (``get_complete_url``, or for Anthropic the ``/v1/messages`` route
litellm appends), the headers (``validate_environment``: bearer key, or ``x-api-key`` plus
``anthropic-version``) and the body (``map_openai_params`` then ``transform_request``) for a
request whose prompt and completion limit are unique marks. Each call then copies that template
with the marks replaced, so a call pays a dictionary copy instead of litellm's per-call
transformation (about 0.8 ms for Anthropic, which also builds model metadata every time). A
template in which either mark is not found exactly once (a format that rewrites the prompt) is
refused and the endpoint keeps litellm's own call.

Answers are read from the fields the vendors document (OpenAI ``choices[0].message.content`` and
``usage.prompt_tokens``/``completion_tokens``; Anthropic's text ``content`` blocks and
``usage.input_tokens``/``output_tokens``), without building litellm's response objects. Every
failure becomes a :class:`ProviderError` of the kind the router acts on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agent_platform.errors import ProviderError
from agent_platform.models.endpoints import Endpoint

__all__ = ["PROMPT_MARK", "TOKENS_MARK", "WireRoute", "build_route", "read_answer", "status_error"]

PROMPT_MARK = "\u2063agent-platform-prompt\u2063"
TOKENS_MARK = 987_654_321
WIRE_APIS = ("openai", "anthropic")


@dataclass(frozen=True)
class WireRoute:
    """How one (endpoint, model) is called directly: URL, fixed headers, body template."""

    api: str
    url: str
    headers: Mapping[str, str]
    template: Mapping[str, Any]
    prompt_path: tuple[Any, ...]
    tokens_path: tuple[Any, ...]

    def body(self, prompt: str, max_tokens: int) -> bytes:
        """The request body for ``prompt`` and ``max_tokens`` (JSON bytes)."""
        data: Any = _copy_along(self.template, self.prompt_path, prompt)
        data = _copy_along(data, self.tokens_path, max_tokens)
        return json.dumps(data, separators=(",", ":")).encode()


def build_route(endpoint: Endpoint, model: str) -> WireRoute | None:
    """The direct route of ``endpoint`` for ``model`` (no network), or None when the endpoint
    is not called directly or litellm's format cannot be templated. The caller has imported
    litellm (:func:`~agent_platform.models.providers._litellm` pins its price map first)."""
    if not endpoint.direct or endpoint.model_prefix not in WIRE_APIS or not endpoint.api_base:
        return None
    from litellm.litellm_core_utils.url_utils import ensure_api_route
    from litellm.types.utils import LlmProviders
    from litellm.utils import ProviderConfigManager

    api, base, key = endpoint.model_prefix, endpoint.api_base, endpoint.api_key
    wire_model = endpoint.model_string(model).removeprefix(f"{api}/")
    config = ProviderConfigManager.get_provider_chat_config(wire_model, LlmProviders(api))
    if config is None:
        return None
    limits = {"max_tokens": TOKENS_MARK}
    optional = config.map_openai_params(limits, {}, wire_model, drop_params=False)
    messages: Any = [{"role": "user", "content": PROMPT_MARK}]
    headers = config.validate_environment(
        {}, wire_model, messages, dict(optional), {}, api_key=key, api_base=base
    )
    if api == "anthropic":
        url = ensure_api_route(base, "v1/messages")
    else:
        url = config.get_complete_url(base, key, wire_model, dict(optional), {}, stream=False)
    template = config.transform_request(wire_model, messages, dict(optional), {}, dict(headers))
    prompt_paths = _paths_of(template, PROMPT_MARK)
    tokens_paths = _paths_of(template, TOKENS_MARK)
    if len(prompt_paths) != 1 or len(tokens_paths) != 1:
        return None
    fixed = {str(k).lower(): str(v) for k, v in headers.items()}
    fixed["content-type"] = "application/json"
    return WireRoute(api, url, fixed, template, prompt_paths[0], tokens_paths[0])


def read_answer(provider: str, api: str, payload: bytes) -> tuple[str, int, int]:
    """(text, prompt tokens, completion tokens) of a successful answer.

    Raises:
        ProviderError: ``bad_response`` when the body is not JSON or lacks the documented fields.
    """
    text: str | None
    try:
        data = json.loads(payload)
        if api == "anthropic":
            texts = [b["text"] for b in data["content"] if b.get("type") == "text"]
            text = "".join(texts) if texts else None
            usage = data["usage"]
            prompt, completion = usage["input_tokens"], usage["output_tokens"]
        else:
            text = data["choices"][0]["message"]["content"]
            usage = data["usage"]
            prompt, completion = usage["prompt_tokens"], usage["completion_tokens"]
        counts = int(prompt), int(completion)
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise ProviderError(provider, "bad_response", f"unusable response: {exc!r}"[:300]) from exc
    if not isinstance(text, str):
        raise ProviderError(provider, "bad_response", "response has no text content")
    return text, counts[0], counts[1]


def status_error(
    provider: str, status: int, headers: Mapping[str, str], payload: bytes
) -> ProviderError:
    """The :class:`ProviderError` of a non-2xx answer: 429 ``rate_limited`` (with its
    Retry-After), other 4xx ``client_error``, anything else ``server_error``."""
    message = f"HTTP {status}: {_error_message(payload)}"
    if status == 429:
        return ProviderError(provider, "rate_limited", message, 429, _seconds(headers))
    if 400 <= status < 500:
        return ProviderError(provider, "client_error", message, status)
    return ProviderError(provider, "server_error", message, status)


def _seconds(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: the health tracker's own cooldown applies


def _error_message(payload: bytes) -> str:
    """The vendor's error message when the body carries one, else the body's start."""
    try:
        error = json.loads(payload).get("error")
        message = error.get("message") if isinstance(error, dict) else None
    except (ValueError, AttributeError):
        message = None
    text = message if isinstance(message, str) else payload[:200].decode("utf-8", "replace")
    return text.splitlines()[0][:300] if text else "(empty body)"


def _paths_of(node: Any, mark: object, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path (keys and indexes) at which ``mark`` sits in ``node``."""
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _paths_of(v, mark, (*path, k))]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _paths_of(v, mark, (*path, i))]
    same = node == mark and type(node) is type(mark)
    return [path] if same else []


def _copy_along(node: Any, path: tuple[Any, ...], value: Any) -> Any:
    """``node`` with ``value`` at ``path``; only the containers on the path are copied (the
    template is shared by every call and never changed)."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(node, dict):
        return {**node, head: _copy_along(node[head], rest, value)}
    items = list(node)
    items[head] = _copy_along(items[head], rest, value)
    return items
