"""The ``rfdetect`` command: one entry point, one module per subcommand.

Each command module defines ``register(subparsers)`` (adds its parser, with an
example in its epilog, and sets ``func``) and a ``run(args) -> int``.  Errors
derived from RFDetectError print as one line on stderr with a non-zero exit.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from .. import __version__
from ..errors import RFDetectError

# Permanent command names (DESIGN.md section 4) -> module implementing them.
COMMANDS = {
    "analyze": "analyze",
    "plot": "plot",
    "signatures": "signatures",
    "simulate": "simulate",
    "scan": "scan",
    "record": "record",
    "convert": "convert",
    "calibrate": "calibrate",
    "bench": "bench",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, as argparse does, plus a hint
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rfdetect", description="RF drone-detection engine for SDR: "
                     "finds bursts, names drone links, estimates bearings, hands off detections.",
                     formatter_class=argparse.RawDescriptionHelpFormatter,
                     epilog="Example: rfdetect analyze recordings/demo_868.h5")
    parser.add_argument("--version", action="version", version=f"rfdetect {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, module in COMMANDS.items():
        try:
            mod = importlib.import_module(f".{module}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.endswith(f"cli.{module}"):
                continue  # command not built yet
            raise
        mod.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except RFDetectError as exc:
        print(f"rfdetect {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"rfdetect {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
