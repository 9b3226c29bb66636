"""The notification workload: the shipped config, real receivers with faults, compressed time.

The retry schedule, circuit breaker, dispatcher settings and destination timeouts are those of
the configuration handed in (``configs/notifications.yaml`` as shipped); only the destinations'
addresses are pointed at loopback receivers this workload starts (a Standard-Webhooks receiver
and a Slack-style endpoint on one HTTP server, an SMTP server), and 127.0.0.1 is allowed past
the SSRF guard. Time is compressed by ``time_scale``: the dispatcher multiplies every duration
of the config by it (:mod:`agent_platform.notifications.timescale`), and the receivers' slow
answers, hangs and ``Retry-After`` are the scaled equivalents of the declared simulated ones.

Events arrive one every ``interval_s`` (simulated) while the dispatcher runs; a declared share
of requests and e-mails meets a fault drawn from the declared mix. Every attempt, as the outbox
recorded it, becomes a row; every pair never attempted a ``pending`` row. The captured
correlation id and any permanent refusal come from the receivers (:mod:`._notification_capture`).
"""

from __future__ import annotations

import base64
import hashlib
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.engine import Engine

from agent_platform.evidence.formats.notifications import DeliveryRow
from agent_platform.evidence.workloads._notification_capture import (
    HOOK_PATH,
    SLACK_PATH,
    captured_email,
    captured_http,
    email_faults,
    http_faults,
)
from agent_platform.evidence.workloads._notification_rows import pair_rows
from agent_platform.notifications import Dispatcher, NotificationPublisher
from agent_platform.notifications.testing import SmtpReceiver, WebhookReceiver
from agent_platform.schemas.notifications import NotificationsConfig, SecurityConfig

__all__ = ["EVENT_TYPE", "Delivery", "FaultMix", "NotificationPlan", "deliver", "loopback_config"]

EVENT_TYPE = "budget.evidence_probe"  # matches every shipped destination's event filter
_SECRET_ENV = "EVIDENCE_WEBHOOK_SECRET"


@dataclass(frozen=True)
class FaultMix:
    """Which share of HTTP requests and of e-mails fault, and how (drawn by ``seed``).

    Durations are simulated seconds: a ``slow`` answer takes ``slow_s``; a ``timeout`` holds
    the request ``hang_factor`` times the destination's timeout; ``429`` asks for
    ``retry_after_s``.
    """

    http_rate: float = 0.12
    http_kinds: tuple[str, ...] = ("timeout", "drop", "slow", "429", "503")
    smtp_rate: float = 0.12
    smtp_kinds: tuple[str, ...] = ("451", "554", "drop", "timeout")
    slow_s: float = 2.0
    hang_factor: float = 1.5
    retry_after_s: int = 2
    seed: int = 7


@dataclass(frozen=True)
class NotificationPlan:
    """``events`` events, one every ``interval_s`` simulated seconds, time compressed by
    ``time_scale``; ``budget_s`` bounds the wall-clock wait for the outbox to drain."""

    events: int
    time_scale: float = 0.05
    interval_s: float = 0.3
    faults: FaultMix = FaultMix()
    budget_s: float = 60.0

    def declared(self, config: NotificationsConfig) -> dict[str, Any]:
        """The plan, the fault mix and the configuration the dispatcher ran with."""
        shipped = config.model_dump(mode="json", exclude={"destinations", "security"})
        digest = hashlib.sha256(config.model_dump_json().encode()).hexdigest()
        return {
            "events": self.events,
            "time_scale": self.time_scale,
            "interval_s": self.interval_s,
            "fault_mix": {
                k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self.faults).items()
            },
            "seed": self.faults.seed,
            "config": {**shipped, "sha256_of_loaded_config": digest},
            "config_changes": "destinations pointed at loopback receivers; 127.0.0.1/32 allowed",
        }


@dataclass(frozen=True)
class Delivery:
    """What :func:`deliver` did: the log rows and how many pairs were published."""

    rows: list[DeliveryRow]
    published: int
    destinations: int

    @property
    def published_pairs(self) -> int:
        return self.published * self.destinations


def loopback_config(
    shipped: NotificationsConfig, hook_url: str, slack_url: str, smtp_port: int
) -> NotificationsConfig:
    """``shipped`` with each destination enabled and pointed at its loopback receiver (same
    name, type, events and timeout) and 127.0.0.1 allowed; everything else as shipped."""
    moved = []
    for dest in shipped.destinations:
        if dest.type == "webhook":
            update: dict[str, Any] = {"url": hook_url, "url_env": None, "secret_env": _SECRET_ENV}
        elif dest.type == "slack":
            update = {"url": slack_url, "url_env": None}
        else:
            update = {"smtp_host": "127.0.0.1", "smtp_port": smtp_port, "starttls": False}
            update.update({"smtps": False, "username_env": None, "password_env": None})
        moved.append(dest.model_copy(update={**update, "enabled": True}))
    security = SecurityConfig(allow_cidrs=["127.0.0.1/32"])
    return shipped.model_copy(update={"destinations": moved, "security": security})


def _timeout(config: NotificationsConfig, kind: str) -> float:
    return max((d.timeout_s for d in config.destinations if d.type == kind), default=5.0)


@contextmanager
def _receivers(
    plan: NotificationPlan, shipped: NotificationsConfig, secret: str
) -> Iterator[tuple[WebhookReceiver, SmtpReceiver]]:
    mix, scale = plan.faults, plan.time_scale
    hooks = WebhookReceiver(
        secret=secret,
        unsigned_paths=[SLACK_PATH],
        retry_after=str(mix.retry_after_s),
        hang_s=mix.hang_factor * _timeout(shipped, "webhook") * scale,
        slow_s=mix.slow_s * scale,
    )
    smtp = SmtpReceiver(hang_s=mix.hang_factor * _timeout(shipped, "email") * scale)
    with hooks, smtp:
        hooks.set_fault_rate(mix.http_rate, kinds=mix.http_kinds, seed=mix.seed)
        smtp.set_fault_rate(mix.smtp_rate, kinds=mix.smtp_kinds, seed=mix.seed + 1)
        yield hooks, smtp


def _publish_paced(
    publisher: NotificationPublisher, plan: NotificationPlan, sleep: Callable[[float], None]
) -> dict[str, str]:
    """Publish the events one every ``interval_s`` (scaled); correlation id -> notification id."""
    out: dict[str, str] = {}
    pause = plan.interval_s * plan.time_scale
    for n in range(plan.events):
        cid = f"ev-{uuid.uuid4().hex}"
        out[cid] = publisher.publish(
            EVENT_TYPE, {"sequence": n, "purpose": "G1 delivery evidence"}, correlation_id=cid
        )
        sleep(pause)
    return out


def _drain(dispatcher: Dispatcher, deadline: float) -> None:
    """Wait until nothing is pending (or the deadline passes)."""
    while dispatcher.pending() > 0 and time.monotonic() < deadline:
        time.sleep(0.02)


def _dispatch(
    engine: Engine, config: NotificationsConfig, plan: NotificationPlan, environ: dict[str, str]
) -> tuple[NotificationPublisher, dict[str, str]]:
    """Run a dispatcher on a thread while the events are published; stop once drained."""
    rng = random.Random(plan.faults.seed)
    with Dispatcher(
        engine, config, environ=environ, rng=rng, time_scale=plan.time_scale
    ) as dispatcher:
        publisher = NotificationPublisher(
            engine, config, environ=environ, on_enqueue=dispatcher.wake
        )
        stop = threading.Event()
        runner = threading.Thread(
            target=dispatcher.run, kwargs={"stop": stop, "max_seconds": plan.budget_s}
        )
        runner.start()
        try:
            published = _publish_paced(publisher, plan, time.sleep)
            _drain(dispatcher, time.monotonic() + plan.budget_s)
        finally:
            stop.set()
            runner.join()
    return publisher, published


def deliver(engine: Engine, shipped: NotificationsConfig, plan: NotificationPlan) -> Delivery:
    """Publish ``plan.events`` events to the shipped destinations, pointed at loopback
    receivers that fault as declared, and deliver them for real in ``engine``."""
    secret = "whsec_" + base64.b64encode(os.urandom(24)).decode("ascii")
    with _receivers(plan, shipped, secret) as (hooks, smtp):
        config = loopback_config(shipped, hooks.url(HOOK_PATH), hooks.url(SLACK_PATH), smtp.port)
        publisher, published = _dispatch(engine, config, plan, {_SECRET_ENV: secret})
        statuses = [publisher.get_delivery_status(nid) for nid in published.values()]
        names = {d.type: d.name for d in config.destinations}
        paths = {HOOK_PATH: names["webhook"], SLACK_PATH: names["slack"]}
        captured = captured_http(hooks.requests(), published, paths)
        captured.update(captured_email(smtp.messages(), names["email"]))
        faults = http_faults(hooks.requests(), published, paths)
        faults.update(email_faults(smtp.faults(), smtp.messages(), names["email"]))
    rows = [
        row
        for status in statuses
        for channel, name in names.items()
        for row in pair_rows(status, name, channel, captured, faults, plan.time_scale)
    ]
    return Delivery(rows, len(statuses), len(names))
