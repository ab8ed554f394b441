"""load_settings: the layers (defaults < file < env < flags), their sources, and the config file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from aiway.config import ConfigError, Settings, load_settings


def test_defaults_apply_when_no_file_env_or_flag(base_env: dict[str, str]) -> None:
    loaded = load_settings(env=base_env)

    assert loaded.settings.ollama == Settings().ollama
    assert loaded.settings.backend == "auto"
    assert set(loaded.sources.values()) == {"default"}
    assert not loaded.config_found


def test_missing_default_config_file_is_fine(base_env: dict[str, str], tmp_path: Path) -> None:
    loaded = load_settings(env=base_env)

    assert loaded.config_path == tmp_path / "xdg-config" / "aiway" / "config.toml"


def test_default_config_file_under_xdg_config_home_is_read(
    base_env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "xdg-config" / "aiway" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text('backend = "ollama"\n', encoding="utf-8")

    loaded = load_settings(env=base_env)

    assert loaded.settings.backend == "ollama"
    assert loaded.sources["backend"] == f"file {path}"
    assert loaded.config_found


def test_missing_config_flag_file_is_an_error(base_env: dict[str, str], tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"

    with pytest.raises(ConfigError, match=r"nowhere\.toml \(from --config\) does not exist"):
        load_settings(config_path=missing, env=base_env)


def test_aiway_config_variable_chooses_the_file(
    base_env: dict[str, str], write_config: Callable[[str], Path]
) -> None:
    path = write_config("[avatar]\nfps = 20\n")

    loaded = load_settings(env={**base_env, "AIWAY_CONFIG": str(path)})

    assert loaded.settings.avatar.fps == 20.0
    assert loaded.config_path == path


def test_missing_aiway_config_file_is_an_error(base_env: dict[str, str], tmp_path: Path) -> None:
    env = {**base_env, "AIWAY_CONFIG": str(tmp_path / "gone.toml")}

    with pytest.raises(ConfigError, match=r"gone\.toml \(from env AIWAY_CONFIG\) does not exist"):
        load_settings(env=env)


def test_each_layer_overrides_the_one_before_and_records_its_source(
    base_env: dict[str, str], write_config: Callable[[str], Path]
) -> None:
    path = write_config(
        "[ollama]\nidle_timeout = 30\nconnect_timeout = 2.5\nhealth_timeout = 1.5\n"
    )
    env = {**base_env, "AIWAY_OLLAMA_IDLE_TIMEOUT": "40", "AIWAY_OLLAMA_CONNECT_TIMEOUT": "3"}

    loaded = load_settings(config_path=path, env=env, overrides={"ollama.idle_timeout": 50.0})

    ollama = loaded.settings.ollama
    assert (ollama.keep_alive, loaded.sources["ollama.keep_alive"]) == ("5m", "default")
    assert (ollama.health_timeout, loaded.sources["ollama.health_timeout"]) == (
        1.5,
        f"file {path}",
    )
    assert (ollama.connect_timeout, loaded.sources["ollama.connect_timeout"]) == (
        3.0,
        "env AIWAY_OLLAMA_CONNECT_TIMEOUT",
    )
    assert (ollama.idle_timeout, loaded.sources["ollama.idle_timeout"]) == (
        50.0,
        "flag --ollama-idle-timeout",
    )


def test_flag_given_as_text_is_parsed(base_env: dict[str, str]) -> None:
    loaded = load_settings(env=base_env, overrides={"embedded.threads": "4"})

    assert loaded.settings.embedded.threads == 4


def test_flag_set_to_none_counts_as_not_given(base_env: dict[str, str]) -> None:
    env = {**base_env, "AIWAY_MODEL": "qwen2.5:0.5b"}

    loaded = load_settings(env=env, overrides={"model": None})

    assert loaded.settings.model == "qwen2.5:0.5b"
    assert loaded.sources["model"] == "env AIWAY_MODEL"


def test_flag_names_spell_the_source_of_a_flag(base_env: dict[str, str]) -> None:
    loaded = load_settings(
        env=base_env,
        overrides={"avatar.reduce_motion": True},
        flag_names={"avatar.reduce_motion": "--reduce-motion"},
    )

    assert loaded.sources["avatar.reduce_motion"] == "flag --reduce-motion"


def test_top_level_keys_come_from_env(base_env: dict[str, str]) -> None:
    env = {**base_env, "AIWAY_BACKEND": "Embedded", "AIWAY_LOG_LEVEL": "debug"}

    loaded = load_settings(env=env)

    assert loaded.settings.backend == "embedded"
    assert loaded.settings.log_level == "DEBUG"
    assert loaded.sources["backend"] == "env AIWAY_BACKEND"


def test_ollama_host_variable_sets_the_host(base_env: dict[str, str]) -> None:
    loaded = load_settings(env={**base_env, "OLLAMA_HOST": "10.0.0.5:11500"})

    assert loaded.settings.ollama.host == "10.0.0.5:11500"
    assert loaded.settings.ollama.base_url() == "http://10.0.0.5:11500"
    assert loaded.sources["ollama.host"] == "env OLLAMA_HOST"


def test_aiway_ollama_host_wins_over_ollama_host(base_env: dict[str, str]) -> None:
    env = {**base_env, "OLLAMA_HOST": "10.0.0.5", "AIWAY_OLLAMA_HOST": "10.0.0.6"}

    loaded = load_settings(env=env)

    assert loaded.settings.ollama.host == "10.0.0.6"
    assert loaded.sources["ollama.host"] == "env AIWAY_OLLAMA_HOST"


def test_ollama_host_variable_overrides_the_file(
    base_env: dict[str, str], write_config: Callable[[str], Path]
) -> None:
    path = write_config('[ollama]\nhost = "file-host:1"\n')

    loaded = load_settings(config_path=path, env={**base_env, "OLLAMA_HOST": "env-host:2"})

    assert loaded.settings.ollama.host == "env-host:2"


@pytest.mark.parametrize("value", ["1", "true", "yes"])
def test_reduce_motion_variable_turns_reduce_motion_on(
    base_env: dict[str, str], value: str
) -> None:
    loaded = load_settings(env={**base_env, "REDUCE_MOTION": value})

    assert loaded.settings.avatar.reduce_motion is True
    assert loaded.sources["avatar.reduce_motion"] == "env REDUCE_MOTION"


@pytest.mark.parametrize("value", ["0", "", "maybe"])
def test_reduce_motion_variable_other_values_change_nothing(
    base_env: dict[str, str], write_config: Callable[[str], Path], value: str
) -> None:
    path = write_config("[avatar]\nreduce_motion = true\n")

    loaded = load_settings(config_path=path, env={**base_env, "REDUCE_MOTION": value})

    assert loaded.settings.avatar.reduce_motion is True
    assert loaded.sources["avatar.reduce_motion"] == f"file {path}"


def test_aiway_variable_wins_over_reduce_motion(base_env: dict[str, str]) -> None:
    env = {**base_env, "REDUCE_MOTION": "1", "AIWAY_AVATAR_REDUCE_MOTION": "0"}

    loaded = load_settings(env=env)

    assert loaded.settings.avatar.reduce_motion is False


def test_flag_wins_over_reduce_motion(base_env: dict[str, str]) -> None:
    env = {**base_env, "REDUCE_MOTION": "1"}

    loaded = load_settings(env=env, overrides={"avatar.reduce_motion": False})

    assert loaded.settings.avatar.reduce_motion is False


def test_unknown_aiway_variable_is_a_warning_with_a_suggestion(base_env: dict[str, str]) -> None:
    env = {**base_env, "AIWAY_OLLAMA_IDLE_TIMOUT": "3"}

    loaded = load_settings(env=env)

    assert loaded.warnings == (
        "environment variable AIWAY_OLLAMA_IDLE_TIMOUT is not a setting and was ignored"
        " (did you mean AIWAY_OLLAMA_IDLE_TIMEOUT?)",
    )


def test_unset_paths_are_filled_from_the_xdg_directories(
    base_env: dict[str, str], tmp_path: Path
) -> None:
    loaded = load_settings(env=base_env)

    settings = loaded.settings
    assert settings.history.path == tmp_path / "xdg-data" / "aiway" / "aiway.sqlite3"
    assert settings.log_file == tmp_path / "xdg-state" / "aiway" / "aiway.log"
    assert settings.daemon.socket_path == tmp_path / "run" / "aiway" / "aiway.sock"
    assert loaded.sources["history.path"] == "default"


def test_socket_path_falls_back_to_a_temporary_directory_without_xdg_runtime_dir(
    base_env: dict[str, str],
) -> None:
    env = {key: value for key, value in base_env.items() if key != "XDG_RUNTIME_DIR"}

    loaded = load_settings(env=env)

    socket_path = loaded.settings.daemon.socket_path
    assert socket_path is not None
    assert socket_path.name == "aiway.sock"
    assert socket_path.parent.name.startswith("aiway-")


def test_relative_path_in_the_file_resolves_against_the_file_directory(
    base_env: dict[str, str], write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    path = write_config('[history]\npath = "data/history.sqlite3"\n')

    loaded = load_settings(config_path=path, env=base_env)

    assert loaded.settings.history.path == tmp_path / "data" / "history.sqlite3"


def test_empty_path_in_the_file_means_the_default_place(
    base_env: dict[str, str], write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    path = write_config('log_file = ""\n')

    loaded = load_settings(config_path=path, env=base_env)

    assert loaded.settings.log_file == tmp_path / "xdg-state" / "aiway" / "aiway.log"


def test_tables_in_the_file_become_read_only_mappings(
    base_env: dict[str, str], write_config: Callable[[str], Path]
) -> None:
    path = write_config(
        '[ollama.options]\nnum_ctx = 4096\nstop = ["###"]\n'
        '[tags.extra_agents]\ndata-scientist = "Prima Ana"\n'
    )

    loaded = load_settings(config_path=path, env=base_env)

    assert dict(loaded.settings.ollama.options) == {"num_ctx": 4096, "stop": ["###"]}
    assert dict(loaded.settings.tags.extra_agents) == {"data-scientist": "Prima Ana"}
    with pytest.raises(TypeError):
        loaded.settings.ollama.options["num_ctx"] = 1  # type: ignore[index]


def test_options_come_from_env_as_json(base_env: dict[str, str]) -> None:
    env = {**base_env, "AIWAY_OLLAMA_OPTIONS": '{"num_ctx": 8192}'}

    loaded = load_settings(env=env)

    assert dict(loaded.settings.ollama.options) == {"num_ctx": 8192}


def test_keep_alive_in_seconds_becomes_a_duration(
    base_env: dict[str, str], write_config: Callable[[str], Path]
) -> None:
    path = write_config("[ollama]\nkeep_alive = 300\n")

    loaded = load_settings(config_path=path, env=base_env)

    assert loaded.settings.ollama.keep_alive == "300s"


def test_byte_sizes_accept_units(base_env: dict[str, str]) -> None:
    env = {**base_env, "AIWAY_CONVERSATION_MAX_LINE_BYTES": "8 MiB"}

    loaded = load_settings(env=env, overrides={"daemon.max_frame_bytes": "512KiB"})

    assert loaded.settings.conversation.max_line_bytes == 8 * 1024 * 1024
    assert loaded.settings.daemon.max_frame_bytes == 512 * 1024


def test_system_prompt_may_be_set_to_empty_text(base_env: dict[str, str]) -> None:
    loaded = load_settings(env={**base_env, "AIWAY_SYSTEM_PROMPT": ""})

    assert loaded.settings.system_prompt == ""


def test_empty_model_variable_means_each_backend_default(
    base_env: dict[str, str], write_config: Callable[[str], Path]
) -> None:
    path = write_config('model = "llama3.2:3b"\n')

    loaded = load_settings(config_path=path, env={**base_env, "AIWAY_MODEL": ""})

    assert loaded.settings.model is None
    assert loaded.sources["model"] == "env AIWAY_MODEL"
