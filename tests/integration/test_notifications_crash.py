"""A dispatcher killed with SIGKILL mid-batch loses nothing: a restarted one delivers the rest.

The dispatcher runs in a separate process so the kill is real; its leased rows become due when
the lease expires, and any notification delivered twice is recognisable by its ``webhook-id``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import sqlalchemy as sa
import yaml

from agent_platform.db import create_engine_for
from agent_platform.notifications import NotificationEvent, NotificationPublisher
from agent_platform.notifications.tables import outbox
from tests.support.receivers import WebhookReceiver, fast_config, new_webhook_secret

CHILD = """
import sys
from pathlib import Path
from agent_platform.db import create_engine_for
from agent_platform.notifications import Dispatcher, load_notifications_config

engine = create_engine_for(sys.argv[1])
config = load_notifications_config(Path(sys.argv[2]))
with Dispatcher(engine, config, config_file=sys.argv[2], worker_id=sys.argv[3]) as dispatcher:
    dispatcher.run(until_idle=True, max_seconds=60)
"""
TOTAL = 120


def _spawn(db_url: str, config_file: Path, worker: str, secret: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CRASH_HOOK_SECRET": secret}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, db_url, str(config_file), worker],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_killed_dispatcher_is_replaced_and_nothing_is_lost(db_url: str, tmp_path: Path) -> None:
    secret = new_webhook_secret()
    engine = create_engine_for(db_url)
    with WebhookReceiver(secret=secret, delay_s=0.03) as rx:
        data = {
            "dispatcher": {
                "batch_size": 50,
                "lease_s": 1.0,
                "poll_interval_s": 0.05,
                "max_workers": 4,
            },
            "retry": {"max_attempts": 10, "base_s": 0.01, "cap_s": 0.1},
            "security": {"allow_cidrs": ["127.0.0.1/32"]},
            "destinations": [
                {
                    "name": "hook",
                    "type": "webhook",
                    "url": rx.url(),
                    "secret_env": "CRASH_HOOK_SECRET",
                    "timeout_s": 5,
                }
            ],
        }
        config_file = tmp_path / "notifications.yaml"
        config_file.write_text(yaml.safe_dump(data), encoding="utf-8")
        publisher = NotificationPublisher(
            engine, fast_config(data["destinations"]), environ={"CRASH_HOOK_SECRET": secret}
        )
        publisher.publish_batch([NotificationEvent("crash.test", {"n": n}) for n in range(TOTAL)])

        first = _spawn(db_url, config_file, "first", secret)
        try:
            assert rx.wait_for(lambda reqs: len(reqs) >= 20, timeout=60), "first never delivered"
        finally:
            os.kill(first.pid, signal.SIGKILL)
            first.wait(timeout=30)
        assert first.returncode == -signal.SIGKILL
        with engine.connect() as conn:
            leased = set(
                conn.execute(
                    sa.select(outbox.c.id).where(
                        outbox.c.claimed_by == "first", outbox.c.status == "pending"
                    )
                ).scalars()
            )
        assert leased  # killed mid-batch: rows still held under its lease

        second = _spawn(db_url, config_file, "second", secret)
        _, stderr = second.communicate(timeout=120)
        assert second.returncode == 0, stderr.decode()[-2000:]
        received = rx.delivered()

    with engine.connect() as conn:
        rows = list(conn.execute(sa.select(outbox.c.id, outbox.c.status)).mappings())
    engine.dispose()
    assert len(rows) == TOTAL
    assert {r["status"] for r in rows} == {"delivered"}
    counts = Counter(r.webhook_id for r in received)
    assert set(counts) == {r["id"] for r in rows}  # every notification arrived
    duplicates = {webhook_id for webhook_id, n in counts.items() if n > 1}
    # Only a message the killed dispatcher had in flight can arrive twice, and its repeat is the
    # same message under the same webhook-id.
    assert duplicates <= leased
    for webhook_id in duplicates:
        bodies = {r.body for r in received if r.webhook_id == webhook_id}
        assert len(bodies) == 1
    assert all(r.signature_valid for r in received)
