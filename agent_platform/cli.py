"""The ``agent-platform`` command.

Each subsystem contributes its subcommands from a module of its own (``register(subparsers)``
plus a handler per command), listed in ``_COMMAND_MODULES``. Errors of agent_platform are
printed as one line and exit 2 (bad input) or 1 (a check that failed); no traceback reaches the
user for a problem they can fix.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from agent_platform.errors import AgentPlatformError, ConfigError, InvalidInputError

__all__ = ["main"]

_COMMAND_MODULES: tuple[str, ...] = (
    "agent_platform.commands.migrate",
    "agent_platform.commands.router",
    "agent_platform.commands.ledger",
    "agent_platform.commands.workload",
    "agent_platform.commands.notify",
    "agent_platform.commands.supply_chain",
    "agent_platform.commands.run",
    "agent_platform.commands.gate",
)

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agent-platform",
        description="Run governed coding agents and the evidence that they work.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except (ConfigError, InvalidInputError) as exc:
        print(f"agent-platform: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except AgentPlatformError as exc:
        print(f"agent-platform: {type(exc).__name__}: {_one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("agent-platform: interrupted", file=sys.stderr)
        return 130


def _one_line(exc: BaseException) -> str:
    """The error's text on one line: driver messages often span several."""
    return " ".join(str(exc).split())


if __name__ == "__main__":
    sys.exit(main())
