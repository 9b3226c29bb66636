"""Subcommands of the ``agent-platform`` CLI, one module per subsystem."""
