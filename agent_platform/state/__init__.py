"""The state fabric: session state (cache in front of SQL) and the hash-chained ledger."""
