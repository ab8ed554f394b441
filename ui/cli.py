"""The ``aiway`` command line: the terminal UI by default, and its subcommands.

aiway [--model NAME] [--backend auto|ollama|embedded] [--config PATH]
aiway headless [--prompt TEXT]... [--json] [--log-file PATH] [--metrics]
aiway config
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from actors.backends.base import BackendError
from actors.errors import AiwayError
from config import ConfigError, LoadedSettings, Settings, describe, load_persona, load_settings

log = logging.getLogger("aiway")

EPILOG = """\
Without a command, aiway opens the terminal UI. The backend is chosen at
start: Ollama when a server answers at OLLAMA_HOST (default 127.0.0.1:11434),
otherwise the small model embedded in the package. Settings come from
defaults < ~/.config/aiway/config.toml < AIWAY_* environment < flags;
`aiway config` shows the effective values and where each came from.
"""


def _common(parser: argparse.ArgumentParser, *, sub: bool = False) -> None:
    """The session flags. A subcommand's copy must not reset what the main parser read
    (``aiway --model x headless``), so there they default to "not given"."""
    unset = argparse.SUPPRESS if sub else None
    group = parser.add_argument_group("session")
    group.add_argument(
        "--model", metavar="NAME", default=unset, help="the model to use (overrides config)"
    )
    group.add_argument(
        "--backend",
        choices=("auto", "ollama", "embedded"),
        default=unset,
        help="force a backend (default: auto: Ollama if it answers, else embedded)",
    )
    group.add_argument(
        "--config", metavar="PATH", type=Path, default=unset, help="read this config file"
    )
    group.add_argument(
        "--ollama-host",
        metavar="ADDR",
        default=unset,
        help="Ollama server (host, host:port or URL)",
    )
    group.add_argument(
        "--reduce-motion",
        action="store_const",
        const=True,
        default=unset,
        help="a still avatar: one frame per state, no wandering",
    )
    group.add_argument(
        "--log-level",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        default=unset,
        help="log file level",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``aiway`` and its subcommands."""
    parser = argparse.ArgumentParser(
        prog="aiway",
        description="A local AI assistant for the terminal, with Yollayah the axolotl.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"aiway {_version()}")
    _common(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    headless = commands.add_parser(
        "headless",
        help="run without the terminal UI: prompts in, streamed text (or JSON) out",
        description="Run the assistant with one log surface. Prompts come from --prompt "
        "(repeatable) or from standard input, one per line; slash commands work. "
        "Exit code 0 when every prompt was answered.",
    )
    _common(headless, sub=True)
    headless.add_argument("--prompt", action="append", metavar="TEXT", help="a prompt (repeatable)")
    headless.add_argument(
        "--json", action="store_true", help="one JSON object per protocol message"
    )
    headless.add_argument("--log-file", metavar="PATH", help="write output here, not stdout")
    headless.add_argument(
        "--metrics", action="store_true", help="print every mailbox's counters at the end"
    )

    config = commands.add_parser(
        "config", help="print the effective settings and where each came from"
    )
    _common(config, sub=True)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("aiway")
    except PackageNotFoundError:
        return "unknown"


def load(args: argparse.Namespace) -> LoadedSettings:
    """Settings from every layer, the flags of ``args`` on top."""
    overrides: dict[str, object] = {
        "model": args.model,
        "backend": args.backend,
        "ollama.host": args.ollama_host,
        "avatar.reduce_motion": args.reduce_motion,
        "log_level": args.log_level,
    }
    return load_settings(config_path=args.config, overrides=overrides)


def setup_logging(settings: Settings) -> None:
    """Log to the file under the XDG state directory, never to the terminal."""
    path = settings.log_file
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``aiway`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        loaded = load(args)
    except ConfigError as exc:
        print(f"aiway: bad configuration:\n{exc}", file=sys.stderr)
        return 2
    for warning in loaded.warnings:
        print(f"aiway: warning: {warning}", file=sys.stderr)
    if args.command == "config":
        print(describe(loaded))
        return 0
    setup_logging(loaded.settings)
    try:
        if args.command == "headless":
            return asyncio.run(_headless(loaded.settings, args))
        from ui.tui.app import run_tui

        return run_tui(loaded.settings)
    except BackendError as exc:
        print(f"aiway: {exc.describe()}", file=sys.stderr)
        return 3
    except AiwayError as exc:
        print(f"aiway: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130


async def _headless(settings: Settings, args: argparse.Namespace) -> int:
    from actors.app import Assistant
    from actors.backends.selection import select_backend
    from ui.headless import run_session

    selection = await select_backend(settings)
    assistant = Assistant.start(
        settings,
        selection.backend,
        model=selection.model,
        backend_reason=selection.reason,
        system_prompt=load_persona(settings),
    )
    assistant.system.install_signal_handlers()
    return await run_session(
        assistant,
        args.prompt,
        json_mode=args.json,
        log_file=args.log_file,
        show_metrics=args.metrics,
    )


if __name__ == "__main__":
    sys.exit(main())
