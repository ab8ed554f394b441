"""The settings object: every bound and choice aiway has, its default, and what it accepts.

`Settings` is one frozen attrs object whose sections mirror the tables of the
config file (``[ollama]``, ``[embedded]``, ...). It is built once at start-up by
`aiway.config.loader.load_settings` and passed in to whoever needs it: nothing reads
the environment or a global to find a setting. Every leaf field carries its
spec in its metadata; the loader parses file, environment and flag values with
it and quotes its ``allowed`` text in errors, and a validator built from the
same spec rejects a bad value given directly in code.
"""

# RUF009 takes `_setting(...)` for a call in a dataclass default; it returns attrs.field.
# ruff: noqa: RUF009

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal

import attrs

from aiway.config.ollama_host import ollama_base_url
from aiway.config.specs import (
    DIRECT,
    Boolean,
    ByteSize,
    Choice,
    Duration,
    FilePath,
    Host,
    Integer,
    Invalid,
    NameTable,
    Number,
    OrUnset,
    Table,
    Text,
    ValueSpec,
    Word,
)

Backend = Literal["auto", "ollama", "embedded"]
AvatarSize = Literal["tiny", "small", "medium", "large"]
Theme = Literal["dark", "light", "none"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]

#: metadata key of a leaf field's spec
SPEC: Final = "aiway.spec"
#: metadata key of a section field's settings class
SECTION: Final = "aiway.section"

_EMPTY: Final[Mapping[str, Any]] = MappingProxyType({})
_SECONDS = Number(minimum=0, exclusive_minimum=True)
_CAPACITY = Integer(minimum=1)
# A Unix socket address holds 108 bytes on Linux (104 on macOS), the final NUL included.
_SOCKET_PATH_BYTES = 103


def _validator(spec: ValueSpec) -> Callable[[object, attrs.Attribute[Any], object], None]:
    def validate(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        try:
            spec.parse(value, DIRECT)
        except Invalid:
            owner = type(instance).__name__
            raise ValueError(
                f"{owner}.{attribute.name} = {value!r}: expected {spec.allowed}"
            ) from None

    return validate


def _setting(spec: ValueSpec, default: object) -> Any:
    """A leaf field: its default, its spec (for the loader) and a validator built from it."""
    # Read-only tables are not hashable; they take no part in the hash.
    hashable = not isinstance(default, Mapping)
    return attrs.field(
        default=default, validator=_validator(spec), metadata={SPEC: spec}, hash=hashable
    )


def _section(cls: type[Any]) -> Any:
    """A section field: one settings class, a table of the config file."""
    return attrs.field(factory=cls, metadata={SECTION: cls})


@attrs.frozen(slots=True)
class OllamaSettings:
    """How aiway talks to an Ollama server ([ollama])."""

    #: "host", "host:port" or a URL; the default comes from OLLAMA_HOST when it is set
    host: str = _setting(Host(), "127.0.0.1:11434")
    #: the model asked for when no model is chosen
    default_model: str = _setting(Word("llama3.2"), "llama3.2")
    #: seconds to open the connection
    connect_timeout: float = _setting(_SECONDS, 5.0)
    #: seconds a stream may go without a line before it is abandoned
    idle_timeout: float = _setting(_SECONDS, 60.0)
    #: seconds a whole answer may take, request to last line, however steadily it streams
    total_timeout: float | None = _setting(OrUnset(_SECONDS, "no limit"), 1800.0)
    #: seconds the start-up probe waits for the server to answer
    health_timeout: float = _setting(_SECONDS, 0.5)
    #: how long the server keeps the model loaded after a request (Ollama's duration)
    keep_alive: str = _setting(Duration(), "5m")
    #: model options sent with every request (num_ctx, temperature, ...); read-only
    options: Mapping[str, object] = _setting(Table(), _EMPTY)

    def base_url(self) -> str:
        """The server's base URL, e.g. "http://127.0.0.1:11434" (port and scheme filled in)."""
        return ollama_base_url(self.host)


@attrs.frozen(slots=True)
class EmbeddedSettings:
    """The model embedded in the package, run by llama.cpp ([embedded])."""

    #: a GGUF file; unset: the packaged SmolLM2
    model_path: Path | None = _setting(OrUnset(FilePath(), "the packaged SmolLM2"), None)
    #: llama.cpp worker threads
    threads: int = _setting(Integer(minimum=1, maximum=256), 1)
    #: context window in tokens
    n_ctx: int = _setting(Integer(minimum=16), 2048)
    #: longest answer in tokens
    max_tokens: int = _setting(Integer(minimum=1), 512)
    #: sampling temperature
    temperature: float = _setting(Number(minimum=0, maximum=2), 0.7)


@attrs.frozen(slots=True)
class ConversationSettings:
    """Bounds of one conversation ([conversation])."""

    #: history messages sent to the model with each turn
    context_messages: int = _setting(Integer(minimum=0), 20)
    #: history messages kept in memory
    history_limit: int = _setting(Integer(minimum=1), 1000)
    #: longest line accepted from a model server, in bytes
    max_line_bytes: int = _setting(ByteSize(minimum=1024), 4 * 1024 * 1024)
    #: answers streamed at the same time
    concurrent_streams: int = _setting(Integer(minimum=1), 2)
    #: messages queued while an answer streams; one more is refused, to its sender only
    max_queued: int = _setting(Integer(minimum=0), 16)
    #: longest message a person (or an attached surface) may send, in bytes of UTF-8
    max_message_bytes: int = _setting(ByteSize(minimum=1024), 64 * 1024)
    #: longest answer, in bytes of UTF-8: past it the answer is cut with a marker and stopped
    max_answer_bytes: int = _setting(ByteSize(minimum=1024), 256 * 1024)


@attrs.frozen(slots=True)
class MailboxSettings:
    """Mailbox capacities, in messages ([mailbox])."""

    #: any actor without a capacity of its own
    default_capacity: int = _setting(_CAPACITY, 1024)
    #: each surface's outbox
    surface_capacity: int = _setting(_CAPACITY, 256)
    #: the Conductor, which every token passes through
    conductor_capacity: int = _setting(_CAPACITY, 4096)


@attrs.frozen(slots=True)
class SupervisionSettings:
    """How a failing actor is restarted ([supervision])."""

    #: restarts allowed within the window before the actor is stopped
    max_restarts: int = _setting(Integer(minimum=0), 5)
    #: the sliding window, in seconds
    restart_window: float = _setting(_SECONDS, 60.0)
    #: delay before the first restart, in seconds; it doubles with each restart
    backoff_initial: float = _setting(_SECONDS, 0.05)
    #: the longest delay before a restart, in seconds
    backoff_max: float = _setting(_SECONDS, 5.0)


@attrs.frozen(slots=True)
class AvatarSettings:
    """Yollayah on screen ([avatar]); REDUCE_MOTION=1 also turns reduce_motion on."""

    #: draw the avatar at all
    enabled: bool = _setting(Boolean(), True)
    #: no wandering, swimming or spinning; gestures show as still poses
    reduce_motion: bool = _setting(Boolean(), False)
    #: frames per second while animating (an idle avatar draws nothing)
    fps: float = _setting(Number(minimum=0, exclusive_minimum=True, maximum=60), 10.0)
    #: size at start; the model may change it with [yolla:size ...]
    size: AvatarSize = _setting(Choice(("tiny", "small", "medium", "large")), "medium")


@attrs.frozen(slots=True)
class TuiSettings:
    """The terminal UI ([tui]); NO_COLOR=1 also sets theme = "none"."""

    #: colours for a dark or a light terminal background, or "none": no colour at all
    theme: Theme = _setting(Choice(("dark", "light", "none")), "dark")
    #: the input history (Up/Down, Ctrl+R), kept across restarts; the loader fills in the
    #: XDG state directory when unset
    input_history: Path | None = _setting(OrUnset(FilePath(), "the XDG state directory"), None)
    #: messages the input history keeps; older ones are forgotten
    input_history_limit: int = _setting(Integer(minimum=1), 1000)


@attrs.frozen(slots=True)
class TagsSettings:
    """Limits on what the model may ask through [yolla:...] tags ([tags])."""

    #: commands obeyed per response; the rest are dropped and counted
    max_commands: int = _setting(Integer(minimum=0), 10)
    #: task cards open at once
    max_active_tasks: int = _setting(Integer(minimum=1), 20)
    #: task cards per session
    max_tasks: int = _setting(Integer(minimum=1), 100)
    #: seconds a finished task is kept before it may be pruned
    finished_task_ttl: float = _setting(_SECONDS, 3600.0)
    #: agents allowed beside the built-in ones: name -> family name shown on the card
    extra_agents: Mapping[str, str] = _setting(NameTable('data-scientist = "Prima Ana"'), _EMPTY)


@attrs.frozen(slots=True)
class HistorySettings:
    """The conversation history on disk ([history])."""

    #: keep a history file at all
    enabled: bool = _setting(Boolean(), True)
    #: the SQLite file; the loader fills in the XDG data directory when unset
    path: Path | None = _setting(OrUnset(FilePath(), "the XDG data directory"), None)
    #: seconds between writes of new messages
    checkpoint_interval: float = _setting(_SECONDS, 0.5)
    #: messages loaded when a conversation is resumed: a screenful, and the model's context
    #: (keep it >= conversation.context_messages); older ones stay on disk and in exports
    resume_messages: int = _setting(Integer(minimum=1), 50)
    #: seconds to wait for another program's lock on the history file before giving up
    lock_timeout: float = _setting(_SECONDS, 5.0)
    #: writes held in memory while the disk refuses them; newer ones are lost (and said so)
    max_queued_writes: int = _setting(Integer(minimum=1), 1000)


@attrs.frozen(slots=True)
class DaemonSettings:
    """The daemon (`aiway serve`) and the surfaces that connect to it ([daemon])."""

    #: the Unix socket; the loader fills in $XDG_RUNTIME_DIR/aiway/aiway.sock when unset
    socket_path: Path | None = _setting(
        OrUnset(FilePath(max_bytes=_SOCKET_PATH_BYTES), "the XDG runtime directory"), None
    )
    #: largest frame accepted from a connection, in bytes
    max_frame_bytes: int = _setting(ByteSize(minimum=1024), 1024 * 1024)
    #: seconds between heartbeats
    heartbeat_interval: float = _setting(_SECONDS, 5.0)
    #: heartbeats missed in a row before a connection is dropped
    heartbeat_misses: int = _setting(Integer(minimum=1), 3)
    #: the secret TCP peers present (created 0600 by `aiway serve --listen`)
    token_file: Path | None = _setting(OrUnset(FilePath(), "a file beside the socket"), None)
    #: connections the daemon holds at once; more are refused
    max_connections: int = _setting(Integer(minimum=1), 64)
    #: messages per second a connection may send on average
    input_rate: float = _setting(_SECONDS, 50.0)
    #: messages a connection may send in a burst above that rate
    input_burst: int = _setting(Integer(minimum=1), 200)
    #: seconds a new connection has to send its handshake
    handshake_timeout: float = _setting(_SECONDS, 5.0)
    #: TCP peers that may be authenticating at once (the owner's Unix surfaces never wait)
    max_unauthenticated: int = _setting(Integer(minimum=1), 8)
    #: seconds a TCP peer has to answer the challenge (at most handshake_timeout)
    unauthenticated_timeout: float = _setting(_SECONDS, 2.0)
    #: bytes waiting to be written to a connection before its surface stops taking messages
    write_buffer_bytes: int = _setting(ByteSize(minimum=1024), 256 * 1024)
    #: a client's first delay before reconnecting, in seconds; it doubles on each failure
    reconnect_initial: float = _setting(_SECONDS, 0.1)
    #: a client's longest delay between reconnection attempts, in seconds
    reconnect_max: float = _setting(_SECONDS, 5.0)


@attrs.frozen(slots=True)
class Settings:
    """Everything aiway can be told; each section is a table of the config file."""

    #: which model runtime answers: "auto" tries Ollama, then the embedded model
    backend: Backend = _setting(Choice(("auto", "ollama", "embedded")), "auto")
    #: the model name; unset: ollama.default_model, or the embedded model
    model: str | None = _setting(OrUnset(Word("llama3.2:1b"), "each backend's default"), None)
    #: the system prompt; unset: the persona that ships with aiway (config/persona.md)
    system_prompt: str | None = _setting(
        OrUnset(Text(), "the packaged persona", empty_is_unset=False), None
    )
    #: the log file; the loader fills in the XDG state directory when unset
    log_file: Path | None = _setting(OrUnset(FilePath(), "the XDG state directory"), None)
    #: the lowest level written to the log
    log_level: LogLevel = _setting(
        Choice(("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")), "INFO"
    )
    ollama: OllamaSettings = _section(OllamaSettings)
    embedded: EmbeddedSettings = _section(EmbeddedSettings)
    conversation: ConversationSettings = _section(ConversationSettings)
    mailbox: MailboxSettings = _section(MailboxSettings)
    supervision: SupervisionSettings = _section(SupervisionSettings)
    avatar: AvatarSettings = _section(AvatarSettings)
    tags: TagsSettings = _section(TagsSettings)
    history: HistorySettings = _section(HistorySettings)
    daemon: DaemonSettings = _section(DaemonSettings)
    tui: TuiSettings = _section(TuiSettings)


@attrs.frozen(slots=True)
class SettingKey:
    """One leaf setting: its dotted key and where it lives."""

    #: "backend" or "ollama.idle_timeout"
    key: str
    #: the section (a table of the config file), or None for a top-level key
    section: str | None
    #: the field name within its section
    name: str
    spec: ValueSpec


def _collect_keys() -> tuple[SettingKey, ...]:
    keys: list[SettingKey] = []
    sections: list[tuple[str, type[Any]]] = []
    for field in attrs.fields(Settings):
        if SECTION in field.metadata:
            sections.append((field.name, field.metadata[SECTION]))
        else:
            keys.append(SettingKey(field.name, None, field.name, field.metadata[SPEC]))
    for section, cls in sections:
        for field in attrs.fields(cls):
            spec = field.metadata[SPEC]
            keys.append(SettingKey(f"{section}.{field.name}", section, field.name, spec))
    return tuple(keys)


#: every leaf setting, top-level keys first, then each section in order
SETTING_KEYS: Final[tuple[SettingKey, ...]] = _collect_keys()
#: the section names, in order
SECTIONS: Final[tuple[str, ...]] = tuple(
    field.name for field in attrs.fields(Settings) if SECTION in field.metadata
)


def value_of(settings: Settings, key: str) -> object:
    """The value of one dotted key, e.g. ``value_of(settings, "ollama.host")``."""
    section, _, name = key.rpartition(".")
    owner: object = getattr(settings, section) if section else settings
    return getattr(owner, name)
