"""configs/notifications.yaml is validated when loaded; secrets come only from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agent_platform.errors import ConfigError, DestinationError
from agent_platform.notifications import load_notifications_config
from agent_platform.notifications.destinations import resolve_destinations
from agent_platform.notifications.ssrf import AddressPolicy, pin_host
from agent_platform.schemas.notifications import NotificationsConfig

SECRET = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "notifications.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_shipped_config_loads_with_every_destination_disabled() -> None:
    config = load_notifications_config()
    assert config.destinations
    assert all(not d.enabled for d in config.destinations)
    assert resolve_destinations(config, environ={}) == {}


@pytest.mark.parametrize(
    ("destination", "key"),
    [
        ({"name": "a", "type": "webhook", "url": "ftp://x.org/", "secret_env": "S"}, "url"),
        ({"name": "a", "type": "webhook", "url": "https://", "secret_env": "S"}, "url"),
        ({"name": "a", "type": "webhook", "url": "https://u:p@x.org/", "secret_env": "S"}, "url"),
        ({"name": "a", "type": "webhook", "url": "https://bad host/", "secret_env": "S"}, "url"),
        ({"name": "a", "type": "slack"}, "destinations.0.slack"),
        (
            {"name": "a", "type": "webhook", "url": "https://x.org", "secret_env": "lower"},
            "secret_env",
        ),
        (
            {
                "name": "a",
                "type": "email",
                "smtp_host": "h",
                "from_addr": "nope",
                "to_addrs": ["a@b.org"],
            },
            "from_addr",
        ),
        (
            {
                "name": "a",
                "type": "email",
                "smtp_host": "h",
                "from_addr": "a@b.org",
                "to_addrs": ["x@"],
            },
            "to_addrs",
        ),
        ({"name": "a", "type": "pager", "url": "https://x.org"}, "destinations.0"),
        ({"name": "Bad Name", "type": "slack", "url": "https://x.org"}, "name"),
    ],
)
def test_bad_destination_is_a_config_error_naming_the_key(
    tmp_path: Path, destination: dict[str, object], key: str
) -> None:
    path = _write(tmp_path, {"destinations": [destination]})
    with pytest.raises(ConfigError) as caught:
        load_notifications_config(path)
    assert caught.value.file == str(path)
    assert key in caught.value.key


def test_duplicate_names_and_bad_cidr_are_rejected(tmp_path: Path) -> None:
    hook = {"name": "a", "type": "slack", "url": "https://hooks.slack.com/x"}
    with pytest.raises(ConfigError, match="unique destination names"):
        load_notifications_config(_write(tmp_path, {"destinations": [hook, hook]}))
    with pytest.raises(ConfigError, match=r"security\.allow_cidrs"):
        load_notifications_config(_write(tmp_path, {"security": {"allow_cidrs": ["10.0.0.0/33"]}}))


def test_missing_secret_env_names_the_variable_not_a_value() -> None:
    config = NotificationsConfig.model_validate(
        {
            "destinations": [
                {
                    "name": "a",
                    "type": "webhook",
                    "url": "https://x.org/h",
                    "secret_env": "HOOK_SECRET",
                }
            ]
        }
    )
    with pytest.raises(ConfigError, match="HOOK_SECRET") as caught:
        resolve_destinations(config, environ={})
    assert caught.value.key == "destinations.0.secret_env"


def test_malformed_secret_and_url_env_never_echo_their_values() -> None:
    config = NotificationsConfig.model_validate(
        {
            "destinations": [
                {"name": "a", "type": "webhook", "url_env": "HOOK_URL", "secret_env": "HOOK_SECRET"}
            ]
        }
    )
    with pytest.raises(ConfigError) as bad_secret:
        resolve_destinations(
            config, environ={"HOOK_URL": "https://x.org/h", "HOOK_SECRET": "s3cr3t-value"}
        )
    assert "s3cr3t-value" not in str(bad_secret.value)
    with pytest.raises(ConfigError) as bad_url:
        resolve_destinations(
            config, environ={"HOOK_URL": "gopher://tok3n@x", "HOOK_SECRET": SECRET}
        )
    assert "tok3n" not in str(bad_url.value)
    assert "$HOOK_URL" in str(bad_url.value)


def test_resolved_destination_hides_secrets_from_repr_and_redacts_them() -> None:
    config = NotificationsConfig.model_validate(
        {
            "destinations": [
                {"name": "s", "type": "slack", "url_env": "SLACK_URL"},
                {"name": "w", "type": "webhook", "url": "https://x.org/h", "secret_env": "W"},
            ]
        }
    )
    slack_url = "https://hooks.slack.com/services/T000/B000/XXXXSECRETXXXX"
    resolved = resolve_destinations(config, environ={"SLACK_URL": slack_url, "W": SECRET})
    assert SECRET not in repr(resolved["w"])
    assert (
        resolved["s"].redactor(f"failed posting to {slack_url}") == "failed posting to [redacted]"
    )
    assert "XXXXSECRETXXXX" not in resolved["s"].redactor("path /services/T000/B000/XXXXSECRETXXXX")
    assert resolved["w"].redactor(f"key {SECRET}") == "key [redacted]"


@pytest.mark.parametrize(
    ("security", "key"),
    [
        ({"allow_cidrs": ["169.254.0.0/16"]}, "security.allow_cidrs"),
        ({"allow_cidrs": ["169.254.169.254/32"]}, "security.allow_cidrs"),
        ({"allow_cidrs": ["fe80::/64"]}, "security.allow_cidrs"),
        ({"allow_cidrs": ["fd00:ec2::254/128"]}, "security.allow_cidrs"),
        ({"allow_cidrs": ["100.100.100.200"]}, "security.allow_cidrs"),
        ({"allow_hosts": ["metadata.google.internal."]}, "security.allow_hosts"),
        ({"allow_hosts": ["169.254.169.254"]}, "security.allow_hosts"),
        ({"allow_hosts": [" "]}, "security.allow_hosts"),
    ],
)
def test_an_allow_list_entry_for_metadata_or_link_local_is_refused(
    tmp_path: Path, security: dict[str, list[str]], key: str
) -> None:
    with pytest.raises(ConfigError, match=r"never reachable|empty entry") as caught:
        load_notifications_config(_write(tmp_path, {"security": security}))
    assert key in caught.value.key


def test_broad_allow_lists_load_and_the_guard_still_refuses_within_them(tmp_path: Path) -> None:
    security = {"allow_cidrs": ["0.0.0.0/0", "::/0", "100.64.0.0/10"], "allow_hosts": ["smtp.lan"]}
    config = load_notifications_config(_write(tmp_path, {"security": security}))
    assert config.security.allow_cidrs == security["allow_cidrs"]
    policy = AddressPolicy(config.security.allow_hosts, config.security.allow_cidrs)
    assert pin_host("smtp.lan", 25, policy, lambda h, p: ["10.1.2.3"]) == "10.1.2.3"
    with pytest.raises(DestinationError, match="never reachable"):
        pin_host("smtp.lan", 25, policy, lambda h, p: ["169.254.169.254"])


def test_smtps_and_an_explicit_starttls_exclude_each_other(tmp_path: Path) -> None:
    mail = {"name": "m", "type": "email", "smtp_host": "smtp.example.org", "smtp_port": 465}
    mail |= {"from_addr": "a@example.org", "to_addrs": ["b@example.org"], "smtps": True}
    config = load_notifications_config(_write(tmp_path, {"destinations": [mail]}))
    (loaded,) = config.destinations
    assert loaded.type == "email" and loaded.smtps and not loaded.upgrade_with_starttls
    with pytest.raises(ConfigError, match="not both"):
        load_notifications_config(_write(tmp_path, {"destinations": [{**mail, "starttls": True}]}))
