"""Loading the settings: defaults, then the config file, then the environment, then flags.

`load_settings` is the one place that reads the config file and the
environment. Each layer overrides the one before it, key by key, and the
loader records where every key's value came from, which `aiway config` prints.
Every problem found is collected (a bad value names the key, the file and line
or the variable or flag, and what is allowed; an unknown key lists the known
ones) and raised together as one `ConfigError`, so nothing bad passes silently.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import attrs

from aiway.config.errors import ConfigError
from aiway.config.paths import (
    default_config_path,
    default_history_path,
    default_input_history,
    default_log_file,
    default_socket_path,
)
from aiway.config.settings import SECTION, SECTIONS, SETTING_KEYS, SettingKey, Settings, value_of
from aiway.config.specs import Boolean, Invalid, Origin
from aiway.config.toml_text import format_value

ENV_PREFIX: Final = "AIWAY_"
#: names another config file, like --config (a missing one is an error)
CONFIG_ENV: Final = "AIWAY_CONFIG"
#: the variable Ollama's own tools read; AIWAY_OLLAMA_HOST wins over it
OLLAMA_HOST_ENV: Final = "OLLAMA_HOST"
#: the common accessibility switch; a true value turns avatar.reduce_motion on
REDUCE_MOTION_ENV: Final = "REDUCE_MOTION"
NO_COLOR_ENV: Final = "NO_COLOR"

# Pairs (smaller, larger) that must stay ordered whatever layer set them.
_ORDERED: Final = (
    ("conversation.context_messages", "conversation.history_limit"),
    ("embedded.max_tokens", "embedded.n_ctx"),
    ("supervision.backoff_initial", "supervision.backoff_max"),
    ("tags.max_active_tasks", "tags.max_tasks"),
    ("daemon.reconnect_initial", "daemon.reconnect_max"),
)
# Keys whose unset value means a place derived from the environment.
_PATH_DEFAULTS: Final[tuple[tuple[str, Callable[[Mapping[str, str]], Path]], ...]] = (
    ("history.path", default_history_path),
    ("log_file", default_log_file),
    ("daemon.socket_path", default_socket_path),
    ("tui.input_history", default_input_history),
)
_TOML_HEADER = re.compile(r"\[\[?([^\[\]]+)\]\]?")
_TOML_KEY = re.compile(r"([A-Za-z0-9_\-.\"' ]+?)\s*=")


def env_name(key: str) -> str:
    """The variable of a dotted key: ``ollama.idle_timeout`` -> AIWAY_OLLAMA_IDLE_TIMEOUT."""
    return ENV_PREFIX + key.replace(".", "_").upper()


def flag_name(key: str) -> str:
    """The usual flag spelling of a dotted key: ``ollama.idle_timeout`` -> --ollama-idle-timeout."""
    return "--" + key.replace(".", "-").replace("_", "-")


_BY_KEY: Final = {setting.key: setting for setting in SETTING_KEYS}
_BY_ENV: Final = {env_name(setting.key): setting for setting in SETTING_KEYS}
_TOP_LEVEL: Final = tuple(setting.key for setting in SETTING_KEYS if setting.section is None)


@attrs.frozen(slots=True)
class LoadedSettings:
    """The effective settings and where each value came from."""

    settings: Settings
    #: dotted key -> "default", "file <path>", "env AIWAY_X" or "flag --x"
    sources: Mapping[str, str]
    #: the config file that was consulted
    config_path: Path
    #: whether it existed (a missing default file is fine)
    config_found: bool
    #: worth telling the user, but not errors: unknown AIWAY_* variables
    warnings: tuple[str, ...] = ()


class _Layers:
    """The values being assembled, their sources, and every problem found so far."""

    def __init__(self) -> None:
        defaults = Settings()
        self.values: dict[str, object] = {s.key: value_of(defaults, s.key) for s in SETTING_KEYS}
        self.sources: dict[str, str] = dict.fromkeys(self.values, "default")
        self.problems: list[str] = []

    def apply(self, setting: SettingKey, raw: object, origin: Origin, source: str) -> None:
        """Parse ``raw`` for ``setting``; on success it overrides, otherwise a problem is noted."""
        try:
            value = setting.spec.parse(raw, origin)
        except Invalid:
            preposition = "in" if source.startswith("file ") else "from"
            self.problems.append(
                f"{setting.key} = {format_value(raw)} {preposition} {origin.label}:"
                f" expected {setting.spec.allowed}"
            )
            return
        self.values[setting.key] = value
        self.sources[setting.key] = source


def _suggest(word: str, choices: tuple[str, ...], prefix: str = "") -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {prefix}{close[0]}?)" if close else ""


def _line_of(lines: list[str], wanted: list[str]) -> int | None:
    """Best effort: the line of the TOML key whose full dotted path starts with ``wanted``."""
    table: list[str] = []
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        header = _TOML_HEADER.fullmatch(stripped)
        if header:
            table = [part.strip().strip("\"'") for part in header[1].split(".")]
            continue
        key = _TOML_KEY.match(stripped)
        if key:
            path = table + [part.strip().strip("\"'") for part in key[1].split(".")]
            if path[: len(wanted)] == wanted:
                return number
    return None


def _read_file(layers: _Layers, path: Path, chosen_by: str | None) -> bool:
    """Apply the config file; False when the default file does not exist."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if chosen_by is None:
            return False
        raise ConfigError(f"config file {path} (from {chosen_by}) does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    lines = text.splitlines()
    source = f"file {path}"

    def place(*wanted: str) -> str:
        line = _line_of(lines, list(wanted))
        return f"{path}:{line}" if line is not None else str(path)

    def apply(setting: SettingKey, raw: object, *wanted: str) -> None:
        origin = Origin(place(*wanted), base_dir=path.parent)
        layers.apply(setting, raw, origin, source)

    top_level = (*_TOP_LEVEL, *(f"[{name}]" for name in SECTIONS))
    for name, raw in data.items():
        if name in SECTIONS:
            known = tuple(s.name for s in SETTING_KEYS if s.section == name)
            if not isinstance(raw, dict):
                layers.problems.append(
                    f"{name} = {format_value(raw)} in {place(name)}: expected a table [{name}]"
                    f" with the keys {', '.join(known)}"
                )
                continue
            for sub, sub_raw in raw.items():
                setting = _BY_KEY.get(f"{name}.{sub}")
                if setting is None:
                    layers.problems.append(
                        f"unknown key {name}.{sub} in {place(name, sub)}{_suggest(sub, known)};"
                        f" the keys of [{name}] are {', '.join(known)}"
                    )
                else:
                    apply(setting, sub_raw, name, sub)
        elif name in _BY_KEY:
            apply(_BY_KEY[name], raw, name)
        else:
            layers.problems.append(
                f"unknown key {name} in {place(name)}{_suggest(name, top_level)};"
                f" the top-level keys are {', '.join(top_level)}"
            )
    return True


def _read_env(layers: _Layers, env: Mapping[str, str]) -> tuple[str, ...]:
    """Apply the environment; returns warnings about AIWAY_* variables that mean nothing."""
    ollama_host = env.get(OLLAMA_HOST_ENV)
    if ollama_host:
        label = f"env {OLLAMA_HOST_ENV}"
        layers.apply(_BY_KEY["ollama.host"], ollama_host, Origin(label, textual=True), label)
    try:
        reduce_motion = Boolean().parse(env.get(REDUCE_MOTION_ENV), Origin("", textual=True))
    except Invalid:
        reduce_motion = False  # a general-purpose variable: other values are not ours to judge
    if reduce_motion:
        layers.values["avatar.reduce_motion"] = True
        layers.sources["avatar.reduce_motion"] = f"env {REDUCE_MOTION_ENV}"
    if env.get(NO_COLOR_ENV):  # no-color.org: set and not empty means no colour
        layers.values["tui.theme"] = "none"
        layers.sources["tui.theme"] = f"env {NO_COLOR_ENV}"
    warnings: list[str] = []
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX) or name == CONFIG_ENV:
            continue
        setting = _BY_ENV.get(name)
        if setting is None:
            warnings.append(
                f"environment variable {name} is not a setting and was ignored"
                f"{_suggest(name, tuple(_BY_ENV))}"
            )
            continue
        label = f"env {name}"
        layers.apply(setting, env[name], Origin(label, textual=True), label)
    return tuple(warnings)


def _read_flags(
    layers: _Layers, overrides: Mapping[str, object], flag_names: Mapping[str, str]
) -> None:
    for key, raw in overrides.items():
        if raw is None:
            continue  # a flag that was not given (argparse's default)
        label = f"flag {flag_names.get(key) or flag_name(key)}"
        setting = _BY_KEY.get(key)
        if setting is None:
            section, _, name = key.rpartition(".")
            names = tuple(s.name for s in SETTING_KEYS if s.section == section)
            if section in SECTIONS:
                hint = _suggest(name, names, prefix=f"{section}.")
            else:
                hint = _suggest(key, tuple(_BY_KEY))
            layers.problems.append(
                f"unknown setting {key} from {label}{hint}; `aiway config` lists the settings"
            )
            continue
        layers.apply(setting, raw, Origin(label, textual=True), label)


def _fill_paths(layers: _Layers, env: Mapping[str, str]) -> None:
    for key, default in _PATH_DEFAULTS:
        if layers.values[key] is None:
            source = layers.sources[key]
            origin = Origin("the default place" if source == "default" else source)
            layers.apply(_BY_KEY[key], default(env), origin, source)


def _check_order(layers: _Layers) -> None:
    for smaller, larger in _ORDERED:
        low, high = layers.values[smaller], layers.values[larger]
        assert isinstance(low, int | float) and isinstance(high, int | float)
        if low > high:
            layers.problems.append(
                f"{smaller} = {format_value(low)} ({layers.sources[smaller]}) must not exceed"
                f" {larger} = {format_value(high)} ({layers.sources[larger]})"
            )


def _build(values: Mapping[str, object]) -> Settings:
    # The values were parsed by their specs; the attrs validators check them once more.
    top: dict[str, Any] = {}
    sections: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
    for setting in SETTING_KEYS:
        target = top if setting.section is None else sections[setting.section]
        target[setting.name] = values[setting.key]
    for field in attrs.fields(Settings):
        if SECTION in field.metadata:
            top[field.name] = field.metadata[SECTION](**sections[field.name])
    return Settings(**top)


def load_settings(
    *,
    config_path: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
    flag_names: Mapping[str, str] | None = None,
) -> LoadedSettings:
    """Load the effective settings: defaults < config file < environment < flags.

    ``config_path`` is the --config file (missing: an error); without it,
    $AIWAY_CONFIG, else the XDG config file (missing: fine, defaults apply).
    ``env`` defaults to ``os.environ``. ``overrides`` maps dotted keys to flag
    values (text or typed; None means the flag was not given); ``flag_names``
    spells the flag of a key when it is not `flag_name`'s. Reads one file;
    raises `ConfigError` listing every problem found.
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    chosen_by: str | None = None
    if config_path is not None:
        path, chosen_by = config_path, "--config"
    elif environ.get(CONFIG_ENV):
        path, chosen_by = Path(environ[CONFIG_ENV]), f"env {CONFIG_ENV}"
    else:
        path = default_config_path(environ)
    path = path.expanduser().absolute()

    layers = _Layers()
    found = _read_file(layers, path, chosen_by)
    warnings = _read_env(layers, environ)
    _read_flags(layers, overrides or {}, flag_names or {})
    _fill_paths(layers, environ)
    _check_order(layers)
    if layers.problems:
        raise ConfigError(layers.problems)
    return LoadedSettings(
        settings=_build(layers.values),
        sources=MappingProxyType(layers.sources),
        config_path=path,
        config_found=found,
        warnings=warnings,
    )
