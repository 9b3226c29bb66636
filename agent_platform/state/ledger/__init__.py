"""The ledger's machinery, one concern per module; callers use :mod:`agent_platform.state.ledger_replay`.

- :mod:`.entry`: the stored entry and the check of names (ledgers, event types, consumers);
- :mod:`.chain`: how entries are hashed and chained (pure functions);
- :mod:`.sql`: every statement, built once per dialect;
- :mod:`.append` / :mod:`.async_append`: appending with compare-and-set, sync and on the loop;
- :mod:`.retry`: how appends at the head wait out other writers (deadline, backoff);
- :mod:`.read`: pages, consumer positions, replay;
- :mod:`.scan` / :mod:`.verify`: the streaming walk along a chain, and the verification of one
  ledger built on it;
- :mod:`.keys`, :mod:`.checkpoints`, :mod:`.anchor`, :mod:`.anchoring`: signed head
  checkpoints kept outside the database, and what verification concludes from them;
- :mod:`.catalog`: which ledgers exist, for listing and for "did you mean".
"""
