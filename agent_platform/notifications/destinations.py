"""Destinations as the dispatcher needs them: config plus the secrets read from the environment.

The YAML names secrets only by environment variable; this module reads them once, when a
publisher or dispatcher is built, and fails with a :class:`ConfigError` that names the variable
(never its value) when one is missing or malformed. It also builds the :class:`Redactor` that
scrubs every secret it read out of error texts before they reach the outbox, the delivery log or
a log line, and the TLS context of a destination that names its own ``ca_file``.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import os
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from agent_platform.errors import ConfigError
from agent_platform.schemas.notifications import (
    EmailDestination,
    NotificationsConfig,
    SlackDestination,
    WebhookDestination,
    validate_http_url,
)

__all__ = [
    "DEFAULT_CONFIG_FILE",
    "Redactor",
    "ResolvedDestination",
    "matches_event",
    "resolve_destinations",
]

DEFAULT_CONFIG_FILE = "configs/notifications.yaml"
_MIN_SECRET_LEN = 4


class Redactor:
    """Replaces every known secret (and the secret parts of secret URLs) with ``[redacted]``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        kept = {s for s in secrets if s and len(s) >= _MIN_SECRET_LEN}
        # Longest first, so a URL is replaced whole before its path is.
        self._secrets = tuple(sorted(kept, key=len, reverse=True))

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text

    def merged(self, other: Redactor) -> Redactor:
        return Redactor(self._secrets + other._secrets)


@dataclass(frozen=True)
class ResolvedDestination:
    """One enabled destination with its secrets read from the environment.

    ``url`` is set for webhook and Slack destinations, ``secret`` for webhooks,
    ``username``/``password`` for SMTP with authentication, ``ssl_context`` (trusting only the
    destination's ``ca_file``) when one is configured.
    """

    config: WebhookDestination | SlackDestination | EmailDestination
    url: str | None = None
    secret: str | None = field(default=None, repr=False)
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    redactor: Redactor = field(default_factory=Redactor, repr=False)
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def type(self) -> str:
        return self.config.type


def matches_event(
    config: WebhookDestination | SlackDestination | EmailDestination, event_type: str
) -> bool:
    """True when one of the destination's ``events`` patterns (fnmatch) matches."""
    return any(fnmatch.fnmatchcase(event_type, pattern) for pattern in config.events)


def resolve_destinations(
    config: NotificationsConfig,
    environ: Mapping[str, str] | None = None,
    *,
    config_file: str = DEFAULT_CONFIG_FILE,
) -> dict[str, ResolvedDestination]:
    """Every enabled destination by name, with its secrets; raises :class:`ConfigError`."""
    env = os.environ if environ is None else environ
    resolved: dict[str, ResolvedDestination] = {}
    for index, destination in enumerate(config.destinations):
        if destination.enabled:
            key = f"destinations.{index}"
            resolved[destination.name] = _resolve_one(destination, env, config_file, key)
    return resolved


def _resolve_one(
    destination: WebhookDestination | SlackDestination | EmailDestination,
    env: Mapping[str, str],
    file: str,
    key: str,
) -> ResolvedDestination:
    context = _ssl_context(destination.ca_file, file, f"{key}.ca_file")
    if isinstance(destination, EmailDestination):
        username = _optional_env(env, destination.username_env, file, f"{key}.username_env")
        password = _optional_env(env, destination.password_env, file, f"{key}.password_env")
        return ResolvedDestination(
            config=destination,
            username=username,
            password=password,
            redactor=Redactor([password or ""]),
            ssl_context=context,
        )
    url, url_secrets = _resolve_url(destination, env, file, key)
    secret: str | None = None
    if isinstance(destination, WebhookDestination):
        secret = _webhook_secret(env, destination.secret_env, file, f"{key}.secret_env")
        url_secrets += [secret, secret.removeprefix("whsec_")]
    return ResolvedDestination(
        config=destination,
        url=url,
        secret=secret,
        redactor=Redactor(url_secrets),
        ssl_context=context,
    )


def _ssl_context(ca_file: str | None, file: str, key: str) -> ssl.SSLContext | None:
    """A verifying client context that trusts ``ca_file`` (None: the default trust store)."""
    if ca_file is None:
        return None
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(
            file, key, ca_file, f"a readable PEM file of CA certificates ({reason})"
        ) from exc


def _resolve_url(
    destination: WebhookDestination | SlackDestination,
    env: Mapping[str, str],
    file: str,
    key: str,
) -> tuple[str, list[str]]:
    if destination.url is not None:
        literal = destination.url
        # A Slack URL's path is its token even when written into the config.
        return literal, (_url_secret_parts(literal) if destination.type == "slack" else [])
    name = destination.url_env or ""
    value = _required_env(env, name, file, f"{key}.url_env", "an http(s) URL")
    try:
        validate_http_url(value)
    except ValueError as exc:
        raise ConfigError(file, f"{key}.url_env", f"${name}", f"${name} holding {exc}") from None
    return value, _url_secret_parts(value)


def _url_secret_parts(url: str) -> list[str]:
    parts = urlsplit(url)
    tail = parts.path + (f"?{parts.query}" if parts.query else "")
    return [url, tail if len(tail) > 1 else "", parts.query]


def _webhook_secret(env: Mapping[str, str], name: str, file: str, key: str) -> str:
    value = _required_env(env, name, file, key, "a webhook secret 'whsec_<base64>'")
    allowed = f"${name} holding 'whsec_' followed by base64 of at least 16 bytes"
    if not value.startswith("whsec_"):
        raise ConfigError(file, key, f"${name}", allowed)
    try:
        raw = base64.b64decode(value.removeprefix("whsec_") + "==", validate=False)
    except (binascii.Error, ValueError):
        raise ConfigError(file, key, f"${name}", allowed) from None
    if len(raw) < 16:
        raise ConfigError(file, key, f"${name}", allowed)
    return value


def _required_env(env: Mapping[str, str], name: str, file: str, key: str, what: str) -> str:
    value = env.get(name, "")
    if not value:
        raise ConfigError(
            file, key, name, f"an environment variable {name} set to {what} (or enabled: false)"
        )
    return value


def _optional_env(env: Mapping[str, str], name: str | None, file: str, key: str) -> str | None:
    if name is None:
        return None
    return _required_env(env, name, file, key, "a non-empty value")
