"""Where ``MAX_ONE_STATEMENT`` used to live; kept so existing imports keep working.

New code imports it from :mod:`agent_platform.state.ledger_replay`.
"""

from agent_platform.state.ledger.sql import MAX_ONE_STATEMENT

__all__ = ["MAX_ONE_STATEMENT"]
