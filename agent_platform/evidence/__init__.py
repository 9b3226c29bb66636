"""Evidence: the G1 gate computed from measured files, and the contract validator."""
