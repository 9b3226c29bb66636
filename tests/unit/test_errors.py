import pickle

import pytest

from agent_platform import errors


@pytest.mark.parametrize(
    "error",
    [
        errors.ConfigError("configs/x.yaml", "a.b", -1, "a positive number"),
        errors.LedgerConflictError(5, 7),
        errors.LedgerGapError(3),
        errors.LedgerIntegrityError(9, "checksum mismatch"),
        errors.ProviderError("openai", "rate_limited", "429", status=429, retry_after_s=2.0),
        errors.AllProvidersFailedError("coding", [{"provider": "openai", "outcome": "timeout"}]),
        errors.PolicyViolationError("coder", ["eval call"]),
        errors.PayloadError("too large"),
    ],
)
def test_errors_survive_pickling_with_their_attributes(error: errors.AgentPlatformError) -> None:
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is type(error)
    assert str(clone) == str(error)
    assert clone.__dict__ == error.__dict__


def test_config_error_names_file_key_value_and_allowed() -> None:
    error = errors.ConfigError("policies/finops.yaml", "phases.1.daily_eur_cap", -5, "> 0")
    assert str(error) == "policies/finops.yaml: phases.1.daily_eur_cap: got -5; allowed: > 0"
