"""Package reality: every dependency checked against its registry and advisories."""
