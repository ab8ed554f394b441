"""What each setting accepts: small specs that parse, check and describe one value.

A spec turns a raw value (a TOML value from the config file, or text from an
environment variable or a command-line flag) into the typed value the settings
hold, or raises `Invalid`. Its `allowed` text is what an error message says is
allowed, so the check and its explanation cannot drift apart. The same specs
also validate a settings object built directly in code.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Protocol

import attrs

from aiway.actors.errors import AiwayError
from aiway.config.ollama_host import ollama_base_url

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|kib|mib|gib)?\s*", re.IGNORECASE)
_SIZE_UNITS = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}
# Go's time.ParseDuration, which Ollama uses for keep_alive ("0" needs no unit).
_DURATION = re.compile(r"-?(?:0|(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+)")
_SECONDS = re.compile(r"-?\d+")
_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


class Invalid(AiwayError):
    """A raw value that a spec does not accept; the loader adds the key and the origin."""


@attrs.frozen(slots=True)
class Origin:
    """Where a raw value comes from, as far as parsing it is concerned."""

    #: how messages name the place: "/x/config.toml:3", "env AIWAY_MODEL", "flag --model"
    label: str
    #: the value arrives as text (environment, command line) and is parsed from it
    textual: bool = False
    #: the directory relative paths resolve against (the config file's); None: the working one
    base_dir: Path | None = None


#: the origin of values given to a settings class directly in code
DIRECT = Origin("code")


class ValueSpec(Protocol):
    """Parses one raw value into a setting's typed value."""

    @property
    def allowed(self) -> str:
        """What is allowed, completing "expected ...": e.g. "a number > 0"."""
        ...

    def parse(self, raw: object, origin: Origin) -> object:
        """The typed value for ``raw``; raises `Invalid` when it is not allowed."""
        ...


def _number(value: float) -> str:
    return f"{value:g}"


@attrs.frozen(slots=True)
class Number:
    """A finite number within bounds; integers are accepted, booleans are not."""

    minimum: float | None = None
    exclusive_minimum: bool = False
    maximum: float | None = None

    @property
    def allowed(self) -> str:
        bounds = []
        if self.minimum is not None:
            sign = ">" if self.exclusive_minimum else ">="
            bounds.append(f"{sign} {_number(self.minimum)}")
        if self.maximum is not None:
            bounds.append(f"<= {_number(self.maximum)}")
        return "a number " + " and ".join(bounds) if bounds else "a number"

    def parse(self, raw: object, origin: Origin) -> float:
        if isinstance(raw, str) and origin.textual:
            try:
                value = float(raw.strip())
            except ValueError:
                raise Invalid from None
        elif isinstance(raw, int | float) and not isinstance(raw, bool):
            value = float(raw)
        else:
            raise Invalid
        if not math.isfinite(value):
            raise Invalid
        if self.minimum is not None and (
            value < self.minimum or (self.exclusive_minimum and value == self.minimum)
        ):
            raise Invalid
        if self.maximum is not None and value > self.maximum:
            raise Invalid
        return value


@attrs.frozen(slots=True)
class Integer:
    """A whole number within bounds; booleans and fractional numbers are refused."""

    minimum: int
    maximum: int | None = None

    @property
    def allowed(self) -> str:
        upper = f" and <= {self.maximum}" if self.maximum is not None else ""
        return f"an integer >= {self.minimum}{upper}"

    def parse(self, raw: object, origin: Origin) -> int:
        if isinstance(raw, str) and origin.textual:
            try:
                value = int(raw.strip())
            except ValueError:
                raise Invalid from None
        elif isinstance(raw, int) and not isinstance(raw, bool):
            value = raw
        else:
            raise Invalid
        if value < self.minimum or (self.maximum is not None and value > self.maximum):
            raise Invalid
        return value


@attrs.frozen(slots=True)
class ByteSize:
    """A size in bytes: an integer, or text with a unit such as "4 MiB" or "512KiB"."""

    minimum: int = 1

    @property
    def allowed(self) -> str:
        return f'a size in bytes >= {self.minimum}: an integer, or text such as "4 MiB"'

    def parse(self, raw: object, origin: Origin) -> int:
        if isinstance(raw, int) and not isinstance(raw, bool):
            value = raw
        elif isinstance(raw, str):
            match = _SIZE.fullmatch(raw)
            if match is None:
                raise Invalid
            scaled = float(match[1]) * _SIZE_UNITS[(match[2] or "b").lower()]
            if not scaled.is_integer():
                raise Invalid
            value = int(scaled)
        else:
            raise Invalid
        if value < self.minimum:
            raise Invalid
        return value


@attrs.frozen(slots=True)
class Boolean:
    """true or false; as text also 1/0, yes/no, on/off (any case)."""

    @property
    def allowed(self) -> str:
        return "true or false"

    def parse(self, raw: object, origin: Origin) -> bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and origin.textual:
            word = raw.strip().lower()
            if word in _TRUE:
                return True
            if word in _FALSE:
                return False
        raise Invalid


@attrs.frozen(slots=True)
class Choice:
    """One of a fixed set of words, matched without regard to case."""

    values: tuple[str, ...]

    @property
    def allowed(self) -> str:
        return "one of " + ", ".join(f'"{value}"' for value in self.values)

    def parse(self, raw: object, origin: Origin) -> str:
        if isinstance(raw, str):
            folded = raw.strip().casefold()
            for value in self.values:
                if value.casefold() == folded:
                    return value
        raise Invalid


@attrs.frozen(slots=True)
class Word:
    """A non-empty name without spaces or control characters, such as a model name."""

    example: str

    @property
    def allowed(self) -> str:
        return f'a name without spaces, such as "{self.example}"'

    def parse(self, raw: object, origin: Origin) -> str:
        if not isinstance(raw, str):
            raise Invalid
        word = raw.strip()
        if not word or not word.isprintable() or any(char.isspace() for char in word):
            raise Invalid
        return word


@attrs.frozen(slots=True)
class Text:
    """Any text (a system prompt)."""

    @property
    def allowed(self) -> str:
        return "text"

    def parse(self, raw: object, origin: Origin) -> str:
        if not isinstance(raw, str):
            raise Invalid
        return raw


@attrs.frozen(slots=True)
class Host:
    """An Ollama host: "host", "host:port" or an http(s) URL."""

    @property
    def allowed(self) -> str:
        return 'a host such as "127.0.0.1:11434" or "http://example.lan:11434"'

    def parse(self, raw: object, origin: Origin) -> str:
        if not isinstance(raw, str):
            raise Invalid
        try:
            ollama_base_url(raw)
        except ValueError:
            raise Invalid from None
        return raw.strip()


@attrs.frozen(slots=True)
class Duration:
    """An Ollama duration ("5m", "1h30m", "0"); a bare number counts seconds."""

    @property
    def allowed(self) -> str:
        return (
            'a duration such as "5m", "1h30m" or "0", or a number of seconds '
            "(negative: keep the model loaded)"
        )

    def parse(self, raw: object, origin: Origin) -> str:
        if isinstance(raw, int) and not isinstance(raw, bool):
            return f"{raw}s"
        if isinstance(raw, str):
            text = raw.strip()
            if _SECONDS.fullmatch(text):
                return f"{text}s"
            if _DURATION.fullmatch(text):
                return text
        raise Invalid


@attrs.frozen(slots=True)
class FilePath:
    """A file path; ``~`` expands, and a relative path resolves against the origin's directory."""

    #: longest allowed path in bytes (a Unix socket address is short); None: no limit
    max_bytes: int | None = None

    @property
    def allowed(self) -> str:
        if self.max_bytes is None:
            return "a file path"
        return f"a file path of at most {self.max_bytes} bytes (the limit of a socket address)"

    def parse(self, raw: object, origin: Origin) -> Path:
        if not isinstance(raw, str | os.PathLike) or not os.fspath(raw) or "\0" in os.fspath(raw):
            raise Invalid
        path = Path(raw).expanduser()
        if origin is not DIRECT and not path.is_absolute():
            path = (origin.base_dir or Path.cwd()) / path
        if self.max_bytes is not None and len(os.fsencode(path)) > self.max_bytes:
            raise Invalid
        return path


def _is_json_value(value: object) -> bool:
    if value is None or isinstance(value, str | bool | int):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_is_json_value(item) for item in value)
    if isinstance(value, Mapping):
        return all(isinstance(key, str) and _is_json_value(v) for key, v in value.items())
    return False


@attrs.frozen(slots=True)
class Table:
    """A table of JSON-compatible values (e.g. model options); read-only once parsed."""

    @property
    def allowed(self) -> str:
        return 'a table such as {num_ctx = 4096} (in the environment, JSON: {"num_ctx": 4096})'

    def parse(self, raw: object, origin: Origin) -> Mapping[str, object]:
        if isinstance(raw, str) and origin.textual:
            try:
                raw = json.loads(raw)
            except ValueError:
                raise Invalid from None
        if not isinstance(raw, Mapping) or not _is_json_value(raw):
            raise Invalid
        return MappingProxyType(dict(raw))


@attrs.frozen(slots=True)
class OrUnset:
    """The inner spec's values, or unset (None), which means a default chosen elsewhere."""

    inner: ValueSpec
    #: what unset means, completing "... for ...": e.g. "each backend's default model"
    unset: str
    #: an empty string means unset (True for names and paths; False for a prompt)
    empty_is_unset: bool = True

    @property
    def allowed(self) -> str:
        if self.empty_is_unset:
            return f'{self.inner.allowed}, or "" for {self.unset}'
        return f"{self.inner.allowed}; leave it unset for {self.unset}"

    def parse(self, raw: object, origin: Origin) -> object:
        if raw is None or (self.empty_is_unset and isinstance(raw, str) and not raw.strip()):
            return None
        return self.inner.parse(raw, origin)


@attrs.frozen(slots=True)
class NameTable:
    """A table from lower-case hyphenated names to non-empty text (e.g. agent -> family name)."""

    example: str

    @property
    def allowed(self) -> str:
        return (
            f"a table of lower-case hyphenated names to text, such as {{{self.example}}}"
            ' (in the environment, JSON: {"name": "text"})'
        )

    def parse(self, raw: object, origin: Origin) -> Mapping[str, str]:
        if isinstance(raw, str) and origin.textual:
            try:
                raw = json.loads(raw)
            except ValueError:
                raise Invalid from None
        if not isinstance(raw, Mapping):
            raise Invalid
        table: dict[str, str] = {}
        for key, value in raw.items():
            if not isinstance(key, str) or not _NAME.fullmatch(key):
                raise Invalid
            if not isinstance(value, str) or not value.strip() or not value.isprintable():
                raise Invalid
            table[key] = value.strip()
        return MappingProxyType(table)
