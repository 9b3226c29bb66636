"""The ``agent-platform`` command.

Each subsystem contributes its subcommands from a module of its own (``register(subparsers)``
plus a handler per command), listed in ``_COMMAND_MODULES``. Every leaf command takes
``--json`` (see :mod:`agent_platform.commands._output`); handlers find the chosen streams on
``args.output``. Errors of agent_platform are printed as one line and exit with a code from
:data:`EXIT_CODES`; no traceback reaches the user for a problem they can fix.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import NoReturn

from agent_platform import __version__
from agent_platform.commands._output import Output
from agent_platform.errors import AgentPlatformError, ConfigError, InvalidInputError
from agent_platform.inputs import clip

__all__ = ["EXIT_CODES", "build_parser", "main"]

_COMMAND_MODULES: tuple[str, ...] = (
    "agent_platform.commands.migrate",
    "agent_platform.commands.router",
    "agent_platform.commands.ledger",
    "agent_platform.commands.workload",
    "agent_platform.commands.notify",
    "agent_platform.commands.supply_chain",
    "agent_platform.commands.advisories",
    "agent_platform.commands.run",
    "agent_platform.commands.runs",
    "agent_platform.commands.submit",
    "agent_platform.commands.gate",
    "agent_platform.commands.doctor",
)

EXIT_CODES: dict[int, str] = {
    0: "success (a check passed, a run was approved)",
    1: "a check failed (tampered ledger, rejected gate, failed verification)",
    2: "bad input: arguments, config files, environment; nothing was changed",
    3: "an agent run paused at a breakpoint (resume it with run --resume RUN_ID)",
    4: "an agent run ended rejected",
    130: "interrupted (Ctrl-C); the next run starts cleanly",
}

Handler = Callable[[argparse.Namespace], int]

_INVALID_CHOICE = re.compile(
    r"argument (?P<arg>\S+): invalid choice: '(?P<got>.*?)' \(choose from (?P<choices>.*)\)"
)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors that suggest the closest command for a typo."""

    def error(self, message: str) -> NoReturn:
        match = _INVALID_CHOICE.search(message)
        if match:
            choices = re.findall(r"'([^']*)'", match["choices"])
            close = difflib.get_close_matches(match["got"], choices, n=1, cutoff=0.6)
            hint = (
                f"; did you mean '{close[0]}'?" if close else f"; choose from {', '.join(choices)}"
            )
            message = f"unknown command '{match['got']}'{hint}"
        self.exit(2, f"{self.prog}: error: {message}\n")


def _epilog() -> str:
    lines = ["exit codes:"] + [f"  {code:<4} {meaning}" for code, meaning in EXIT_CODES.items()]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="agent-platform",
        description="Run governed coding agents and the evidence that they work.",
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"agent-platform {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    for leaf in _leaves(parser):
        if not any(action.dest == "json" for action in leaf._actions):
            leaf.add_argument(
                "--json", action="store_true", help="write one JSON document to stdout"
            )
    return parser


def _leaves(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """Every parser that runs a command (those without subcommands of their own)."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield parser
    for action in subs:
        for child in dict.fromkeys(action.choices.values()):
            yield from _leaves(child)


def _undecodable(argv: Sequence[str]) -> str | None:
    """The first argument that was not valid in the locale's encoding (Python keeps such
    bytes as lone surrogates), shown with the bad bytes escaped."""
    for arg in argv:
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            raw = arg.encode("utf-8", "surrogateescape")
            return raw.decode("utf-8", "backslashreplace")
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    bad = _undecodable(args_in)
    if bad is not None:
        print(f"agent-platform: error: argument {clip(bad)} is not valid UTF-8", file=sys.stderr)
        return 2
    args = build_parser().parse_args(args_in)
    output = Output(bool(getattr(args, "json", False)))
    args.output = output
    handler: Handler = args.handler
    try:
        return handler(args)
    except (ConfigError, InvalidInputError) as exc:
        return _fail(output, "error", exc, 2)
    except AgentPlatformError as exc:
        return _fail(output, type(exc).__name__, exc, 1)
    except KeyboardInterrupt:
        print("agent-platform: interrupted", file=sys.stderr)
        output.error("interrupted", "interrupted", 130)
        return 130


def _fail(output: Output, kind: str, exc: BaseException, code: int) -> int:
    text = _one_line(exc)
    print(f"agent-platform: {kind}: {text}", file=sys.stderr)
    output.error(type(exc).__name__, text, code)
    return code


def _one_line(exc: BaseException) -> str:
    """The error's text on one line: driver messages often span several."""
    return " ".join(str(exc).split())


if __name__ == "__main__":
    sys.exit(main())
