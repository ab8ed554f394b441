"""The settings object: its defaults, its validators, and the shape the loader relies on."""

from __future__ import annotations

import attrs
import pytest

from aiway.actors.errors import AiwayError
from aiway.config import (
    SETTING_KEYS,
    AvatarSettings,
    ConfigError,
    OllamaSettings,
    Settings,
    env_name,
    flag_name,
    value_of,
)


def test_defaults_are_the_documented_ones() -> None:
    settings = Settings()

    assert (settings.backend, settings.model, settings.system_prompt) == ("auto", None, None)
    assert settings.ollama.host == "127.0.0.1:11434"
    assert settings.ollama.default_model == "llama3.2"
    assert (settings.ollama.connect_timeout, settings.ollama.idle_timeout) == (5.0, 60.0)
    assert (settings.ollama.health_timeout, settings.ollama.keep_alive) == (0.5, "5m")
    assert dict(settings.ollama.options) == {}
    assert settings.embedded.model_path is None
    assert (settings.embedded.threads, settings.embedded.n_ctx) == (1, 2048)
    assert (settings.embedded.max_tokens, settings.embedded.temperature) == (512, 0.7)
    assert settings.conversation.context_messages == 20
    assert settings.conversation.history_limit == 1000
    assert settings.conversation.max_line_bytes == 4 * 1024 * 1024
    assert settings.conversation.concurrent_streams == 2
    assert settings.mailbox.default_capacity == 1024
    assert settings.mailbox.surface_capacity == 256
    assert settings.mailbox.conductor_capacity == 4096
    assert settings.supervision.max_restarts == 5
    assert settings.supervision.restart_window == 60.0
    assert settings.supervision.backoff_initial == 0.05
    assert settings.supervision.backoff_max == 5.0
    assert settings.avatar == AvatarSettings(
        enabled=True, reduce_motion=False, fps=10.0, size="medium"
    )
    assert (settings.history.enabled, settings.history.path) == (True, None)
    assert settings.history.checkpoint_interval == 0.5
    assert settings.daemon.socket_path is None
    assert settings.daemon.max_frame_bytes == 1024 * 1024
    assert (settings.daemon.heartbeat_interval, settings.daemon.heartbeat_misses) == (5.0, 3)
    assert (settings.log_file, settings.log_level) == (None, "INFO")


def test_settings_are_frozen() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        Settings().backend = "ollama"  # type: ignore[misc]


def test_settings_are_hashable_despite_their_tables() -> None:
    assert hash(Settings()) == hash(Settings())


def test_a_bad_value_given_in_code_is_refused_by_the_same_spec() -> None:
    with pytest.raises(ValueError, match=r"OllamaSettings.idle_timeout = 0: expected a number > 0"):
        OllamaSettings(idle_timeout=0)


def test_evolve_validates_too() -> None:
    with pytest.raises(ValueError, match="fps"):
        attrs.evolve(Settings().avatar, fps=120.0)


def test_base_url_of_the_default_host() -> None:
    assert OllamaSettings().base_url() == "http://127.0.0.1:11434"


def test_every_key_has_its_own_variable_and_flag() -> None:
    keys = [setting.key for setting in SETTING_KEYS]

    assert len({env_name(key) for key in keys}) == len(keys)
    assert len({flag_name(key) for key in keys}) == len(keys)
    assert env_name("ollama.idle_timeout") == "AIWAY_OLLAMA_IDLE_TIMEOUT"
    assert flag_name("ollama.idle_timeout") == "--ollama-idle-timeout"


def test_value_of_reads_dotted_keys() -> None:
    settings = Settings()

    assert value_of(settings, "backend") == "auto"
    assert value_of(settings, "mailbox.surface_capacity") == 256


def test_config_error_is_an_aiway_error() -> None:
    assert issubclass(ConfigError, AiwayError)
