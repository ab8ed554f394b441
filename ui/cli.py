"""The ``aiway`` command line: the terminal UI by default, and its subcommands.

aiway [--model NAME] [--backend auto|ollama|embedded] [--config PATH] [--connect [ADDR]]
      [--engine asyncio|thespian ...]
aiway headless [--prompt TEXT]... [--each-line] [--json] [--log-file PATH] [--metrics]
               [--connect [ADDR] [--follow]]
               [--engine asyncio|thespian [--thespian-base B] [--admin-port P]
                [--convention HOST:PORT] [--capability C]... [--require C]...]
aiway serve [--listen HOST:PORT] [--socket PATH] [--engine asyncio|thespian ...]
aiway config
aiway models [--json] | aiway pull NAME [--timeout SECONDS]
aiway sessions | aiway export ID [PATH] | aiway forget [--yes]
(--resume [ID|last] continues a saved conversation; --no-history saves nothing)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from aiway.actors.backends.base import BackendError
from aiway.actors.backends.ollama import DEFAULT_PULL_TIMEOUT
from aiway.actors.errors import AiwayError
from aiway.config import (
    ConfigError,
    LoadedSettings,
    Settings,
    describe,
    load_persona,
    load_settings,
)
from aiway.ui.engine_options import add_engine_options, open_engine
from aiway.ui.logfile import PrivateRotatingFileHandler, SafeFormatter
from aiway.ui.output import Output

if TYPE_CHECKING:
    from aiway.actors.runtime import ActorSystem

log = logging.getLogger("aiway")

LOG_BYTES = 5 * 1024 * 1024
"""The log file rotates when it reaches this size."""
LOG_BACKUPS = 2
"""How many rotated log files are kept (aiway.log.1, aiway.log.2)."""

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
    group.add_argument(
        "--no-history",
        action="store_const",
        const=True,
        default=unset,
        help="save nothing: no conversation history on disk (history.enabled = false)",
    )
    group.add_argument(
        "--system",
        metavar="TEXT",
        default=unset,
        help="the system prompt, instead of Yollayah's persona (system_prompt); "
        "`/system TEXT` changes it during a conversation",
    )


def _resume(parser: argparse.ArgumentParser, *, sub: bool = False) -> None:
    parser.add_argument(
        "--resume",
        nargs="?",
        const="last",
        default=argparse.SUPPRESS if sub else None,
        metavar="ID",
        help="continue a saved conversation: its id (a prefix is enough) or `last` (the default)",
    )


def _history_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sessions = commands.add_parser("sessions", help="list the saved conversations")
    _common(sessions, sub=True)
    export = commands.add_parser(
        "export",
        help="write a saved conversation as Markdown",
        description="Write a saved conversation as Markdown, with its metadata, to PATH "
        "(without PATH: to standard output).",
    )
    _common(export, sub=True)
    export.add_argument("id", metavar="ID", help="its id (a prefix is enough), or `last`")
    export.add_argument("path", metavar="PATH", nargs="?", type=Path, help="the file to write")
    export.add_argument(
        "--force", action="store_true", help="replace PATH if it is a file that exists"
    )
    forget = commands.add_parser(
        "forget",
        help="delete every saved conversation (asks first)",
        description="Delete the history file with every saved conversation, and the backups "
        "aiway made beside it. Asks first, unless --yes.",
    )
    _common(forget, sub=True)
    forget.add_argument("--yes", action="store_true", help="do not ask")


def _connect(parser: argparse.ArgumentParser, *, sub: bool = False) -> None:
    parser.add_argument(
        "--connect",
        nargs="?",
        const="",
        default=argparse.SUPPRESS if sub else None,
        metavar="ADDR",
        help="attach to a running `aiway serve` instead of starting a session: its Unix "
        "socket (default: the configured one), or HOST:PORT",
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
    _connect(parser)
    _resume(parser)
    add_engine_options(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    headless = commands.add_parser(
        "headless",
        help="run without the terminal UI: prompts in, streamed text (or JSON) out",
        description="Run the assistant with one log surface. Prompts come from --prompt "
        "(repeatable) and from standard input: piped input is read whole as one prompt "
        "(after the first --prompt when both are given: cat f.py | aiway headless --prompt "
        '"explain"), a terminal a line per prompt; slash commands work. '
        "Exit code 0 when every prompt was answered.",
    )
    _common(headless, sub=True)
    headless.add_argument("--prompt", action="append", metavar="TEXT", help="a prompt (repeatable)")
    headless.add_argument(
        "--each-line",
        action="store_true",
        help="send every line of standard input as its own prompt (after any --prompt), "
        "not all of it as one",
    )
    headless.add_argument(
        "--json", action="store_true", help="one JSON object per protocol message"
    )
    headless.add_argument("--log-file", metavar="PATH", help="write output here, not stdout")
    headless.add_argument(
        "--metrics", action="store_true", help="print every mailbox's counters at the end"
    )
    _connect(headless, sub=True)
    _resume(headless, sub=True)
    add_engine_options(headless)
    headless.add_argument(
        "--follow",
        action="store_true",
        help="with --connect: stay attached, print what every surface causes, send each "
        "prompt or input line as it comes; ride out daemon restarts until SIGINT/SIGTERM",
    )

    serve = commands.add_parser(
        "serve",
        help="run the session as a daemon that surfaces attach to (--connect)",
        description="Run the assistant headless as a long-lived process. Surfaces attach "
        "over a Unix socket (same user only) or, with --listen, over TCP with the token "
        "from the token file. SIGTERM or SIGINT stops it: surfaces are told to quit.",
    )
    _common(serve, sub=True)
    serve.add_argument(
        "--listen",
        metavar="HOST:PORT",
        help="also listen on TCP (HOST defaults to 127.0.0.1; peers need the token)",
    )
    serve.add_argument(
        "--socket",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="the Unix socket (default: $XDG_RUNTIME_DIR/aiway/aiway.sock)",
    )
    serve.add_argument(
        "--rotate-token",
        action="store_true",
        help="replace the TCP token file with a fresh secret before serving (surfaces that "
        "connect over TCP need the new file; the old token stops working)",
    )
    _resume(serve, sub=True)
    add_engine_options(serve)

    _history_commands(commands)
    _convention_commands(commands)
    models = commands.add_parser(
        "models",
        help="list the models of the backend in use",
        description="List the models of the backend aiway would use: Ollama's installed "
        "models (name, size, modified), or the embedded backend's one model.",
    )
    _common(models, sub=True)
    models.add_argument("--json", action="store_true", help="one JSON document")
    pull = commands.add_parser(
        "pull",
        help="download a model into Ollama, with a progress bar",
        description="Pull NAME into the Ollama server (like `ollama pull`). Ctrl+C cancels; "
        "a later pull resumes where this one stopped.",
    )
    _common(pull, sub=True)
    pull.add_argument("name", metavar="NAME", help="the model, e.g. llama3.2:1b")
    pull.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=float,
        default=DEFAULT_PULL_TIMEOUT,
        help=f"give up after this long (default {DEFAULT_PULL_TIMEOUT:g})",
    )
    config = commands.add_parser(
        "config", help="print the effective settings and where each came from"
    )
    _common(config, sub=True)
    return parser


def _convention_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from aiway.actors.runtime.thespian.member import DEFAULT_ADMIN_PORT, add_member_options

    member = commands.add_parser(
        "member",
        help="join a Thespian convention and offer capabilities (the core runs here)",
        description="Run a Thespian system that joins the convention led by --convention "
        "HOST:PORT, listens on and announces --ip, and offers each --capability; a leader "
        "started with --engine thespian --require CAPABILITY places its core here. With "
        "--backend (and --ollama-host, --model) it also runs the model: the leader's answers "
        "stream from here. Runs until SIGTERM or SIGINT. See docs/TWO_MACHINES.md.",
    )
    _common(member, sub=True)
    add_member_options(member)
    status = commands.add_parser(
        "status", help="list the systems of the Thespian convention this machine belongs to"
    )
    _common(status, sub=True)
    status.add_argument("--admin-port", type=int, default=DEFAULT_ADMIN_PORT, metavar="PORT")
    status.add_argument("--ip", default="127.0.0.1", metavar="ADDRESS")
    status.add_argument("--secret-file", metavar="PATH")


def _convention(args: argparse.Namespace, settings: Settings) -> int:
    """``aiway member`` and ``aiway status``."""
    from aiway.actors.runtime.thespian.member import convention_status, member_config, member_main

    if args.command == "member":
        if getattr(args, "backend", None) is None or args.detach or args.stop:
            return member_main(args)
        # --backend: this member runs the model (the stream manager and its backend)
        from aiway.actors.model_member import run_model_member

        try:
            config = member_config(args)
        except ValueError as exc:
            print(f"member: {exc}", file=sys.stderr)
            return 2
        return run_model_member(settings, config)
    try:
        systems = convention_status(args.admin_port, args.ip, args.secret_file)
    except TimeoutError as exc:
        print(f"aiway: {exc}", file=sys.stderr)
        return 3
    for info in systems:
        offers = ", ".join(f"{k}={v}" for k, v in info.capabilities.items()) or "-"
        print(f"{info.address:<22} {info.role:<7} {offers}")
    return 0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("aiway-assistant")  # the distribution; "aiway" on the index is another
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
        "daemon.socket_path": getattr(args, "socket", None),
        "history.enabled": False if args.no_history else None,
        "system_prompt": args.system,
    }
    return load_settings(
        config_path=args.config,
        overrides=overrides,
        flag_names={"history.enabled": "--no-history"},
    )


def setup_logging(settings: Settings) -> None:
    """Log to the file under the XDG state directory, never to the terminal.

    The file is the owner's alone (0600, tightened if it exists), rotates at
    ``LOG_BYTES`` keeping ``LOG_BACKUPS`` old files, and every record is
    stripped of control sequences and capped, since it may quote a peer.
    """
    path = settings.log_file
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handler = PrivateRotatingFileHandler(path, LOG_BYTES, LOG_BACKUPS)
    handler.setFormatter(SafeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
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
    if args.command in ("member", "status"):
        return _convention(args, loaded.settings)
    try:
        if args.command in ("sessions", "export", "forget"):
            return _history(loaded.settings, args)
        if args.command in ("models", "pull"):
            return _models(loaded.settings, args)
        if args.command == "serve":
            from aiway.actors.daemon.serve import serve

            log_file = str(loaded.settings.log_file) if loaded.settings.log_file else None
            return serve(
                loaded.settings,
                listen=args.listen,
                open_system=lambda: open_engine(args, log_file),
                rotate_token=args.rotate_token,
                open_output=lambda: Output.open(None),
                resume=args.resume,
            )
        if args.connect is not None:
            return _attached(loaded.settings, args)
        if args.command == "headless":
            return asyncio.run(_headless(loaded.settings, args))
        from aiway.ui.tui.app import run_tui

        return run_tui(loaded.settings, resume=args.resume, open_system=_tui_engine(loaded, args))
    except BackendError as exc:
        print(f"aiway: {exc.describe()}", file=sys.stderr)
        return 3
    except AiwayError as exc:
        print(f"aiway: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130


def _tui_engine(
    loaded: LoadedSettings, args: argparse.Namespace
) -> Callable[[], Awaitable[ActorSystem | None]] | None:
    """What starts the terminal UI's Thespian engine (``--engine thespian``), or None."""
    if getattr(args, "engine", "asyncio") != "thespian":
        return None
    log_file = str(loaded.settings.log_file) if loaded.settings.log_file else None
    return lambda: open_engine(args, log_file)


def _attached(settings: Settings, args: argparse.Namespace) -> int:
    """A surface attached to a daemon (``--connect``) instead of a session of its own."""
    from aiway.actors.daemon.address import parse_connect

    socket_path = settings.daemon.socket_path
    assert socket_path is not None  # the loader fills it in
    address = parse_connect(args.connect, socket_path)
    if args.system is not None:
        print(
            "aiway: --system sets the prompt of a session aiway starts; the daemon's session "
            "keeps its own: give `aiway serve` --system, or type /system TEXT once attached",
            file=sys.stderr,
        )
        return 2
    if args.command != "headless":
        from aiway.ui.tui.app import run_tui

        return run_tui(settings, connect=address)
    from aiway.ui.link.attach import run_attached

    return asyncio.run(
        run_attached(
            settings,
            address,
            args.prompt,
            follow=args.follow,
            json_mode=args.json,
            log_file=args.log_file,
        )
    )


def _history(settings: Settings, args: argparse.Namespace) -> int:
    """``aiway sessions``, ``aiway export ID [PATH]``, ``aiway forget [--yes]``."""
    from aiway.actors.store import shell

    if args.command == "sessions":
        return shell.list_sessions(settings, sys.stdout, sys.stderr)
    if args.command == "export":
        return shell.export_session(
            settings, args.id, args.path, sys.stdout, sys.stderr, force=args.force
        )
    return shell.forget(settings, yes=args.yes, confirm=_ask, out=sys.stdout, err=sys.stderr)


def _models(settings: Settings, args: argparse.Namespace) -> int:
    """``aiway models [--json]`` and ``aiway pull NAME``."""
    from aiway.ui import models

    if args.command == "models":
        return asyncio.run(models.list_models(settings, sys.stdout, json_mode=args.json))
    try:
        return asyncio.run(models.pull(settings, args.name, sys.stdout, timeout=args.timeout))
    except KeyboardInterrupt:
        print(f"aiway: the pull of {args.name} was cancelled", file=sys.stderr)
        return 130


def _ask(question: str) -> bool:
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


async def _headless(settings: Settings, args: argparse.Namespace) -> int:
    from aiway.actors.app import Assistant
    from aiway.actors.model_member import session_backend
    from aiway.actors.store import open_history
    from aiway.ui.headless import run_session

    history = await open_history(settings, resume=args.resume)
    for note in history.store.notes if history is not None else ():
        print(f"aiway: {note}", file=sys.stderr)
    system = None
    try:
        system = await open_engine(
            args, str(settings.log_file) if settings.log_file else None, interruptible=True
        )
        selection = await session_backend(settings, system)
        assistant = Assistant.start(
            settings,
            selection.backend,
            model=selection.model,
            backend_reason=selection.reason,
            system_prompt=load_persona(settings),
            history=history,
            system=system,
        )
    except BaseException:
        if system is not None:
            await system.stop()
        if history is not None:
            await history.store.close()
        raise
    assistant.system.install_signal_handlers()
    code = await run_session(
        assistant,
        args.prompt,
        json_mode=args.json,
        log_file=args.log_file,
        show_metrics=args.metrics,
        each_line=args.each_line,
    )
    failure = getattr(system, "failure", None)  # a Thespian core that could not be placed
    if failure:
        print(f"aiway: {failure}", file=sys.stderr)
        return 3
    return code


if __name__ == "__main__":
    sys.exit(main())
