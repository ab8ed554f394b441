"""Bad configuration: each message names the key, where the value came from, what is allowed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from aiway.config import ConfigError, load_settings

# (section, key, TOML value, what the message says is allowed)
BAD_FILE_VALUES = [
    (None, "backend", '"cloud"', 'one of "auto", "ollama", "embedded"'),
    (None, "model", '"two words"', "a name without spaces"),
    (None, "model", "3", "a name without spaces"),
    (None, "system_prompt", "42", "text; leave it unset for the packaged persona"),
    (None, "log_level", '"LOUD"', 'one of "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"'),
    (None, "log_file", "true", "a file path"),
    ("ollama", "host", '"ftp://x"', 'a host such as "127.0.0.1:11434"'),
    ("ollama", "host", '"ftp://example:21"', 'a host such as "127.0.0.1:11434"'),
    ("ollama", "host", '"example:99999"', 'a host such as "127.0.0.1:11434"'),
    ("ollama", "default_model", '""', "a name without spaces"),
    ("ollama", "connect_timeout", "0", "a number > 0"),
    ("ollama", "idle_timeout", '"abc"', "a number > 0"),
    ("ollama", "idle_timeout", "-1.5", "a number > 0"),
    ("ollama", "idle_timeout", "inf", "a number > 0"),
    ("ollama", "idle_timeout", "true", "a number > 0"),
    ("ollama", "health_timeout", "nan", "a number > 0"),
    ("ollama", "keep_alive", '"forever"', 'a duration such as "5m"'),
    ("ollama", "options", '"num_ctx=4"', "a table such as {num_ctx = 4096}"),
    ("ollama", "options", "{when = 1979-05-27}", "a table such as {num_ctx = 4096}"),
    ("embedded", "threads", "0", "an integer >= 1 and <= 256"),
    ("embedded", "threads", "2.0", "an integer >= 1 and <= 256"),
    ("embedded", "n_ctx", "8", "an integer >= 16"),
    ("embedded", "max_tokens", "0", "an integer >= 1"),
    ("embedded", "temperature", "2.5", "a number >= 0 and <= 2"),
    ("embedded", "model_path", "[]", 'a file path, or "" for the packaged SmolLM2'),
    ("conversation", "context_messages", "-1", "an integer >= 0"),
    ("conversation", "history_limit", "0", "an integer >= 1"),
    ("conversation", "max_line_bytes", '"4 parsecs"', "a size in bytes >= 1024"),
    ("conversation", "max_line_bytes", "100", "a size in bytes >= 1024"),
    ("conversation", "concurrent_streams", "0", "an integer >= 1"),
    ("mailbox", "default_capacity", "0", "an integer >= 1"),
    ("mailbox", "surface_capacity", "-5", "an integer >= 1"),
    ("mailbox", "conductor_capacity", '"big"', "an integer >= 1"),
    ("supervision", "max_restarts", "-1", "an integer >= 0"),
    ("supervision", "restart_window", "0", "a number > 0"),
    ("supervision", "backoff_initial", "0", "a number > 0"),
    ("supervision", "backoff_max", "-2", "a number > 0"),
    ("avatar", "enabled", '"yes"', "true or false"),
    ("avatar", "reduce_motion", "1", "true or false"),
    ("avatar", "fps", "0", "a number > 0 and <= 60"),
    ("avatar", "fps", "61", "a number > 0 and <= 60"),
    ("avatar", "size", '"huge"', 'one of "tiny", "small", "medium", "large"'),
    ("tags", "max_commands", "-1", "an integer >= 0"),
    ("tags", "max_active_tasks", "0", "an integer >= 1"),
    ("tags", "max_tasks", "0", "an integer >= 1"),
    ("tags", "finished_task_ttl", "0", "a number > 0"),
    ("tags", "extra_agents", '{"Bad Name" = "x"}', "a table of lower-case hyphenated names"),
    ("tags", "extra_agents", '{good = ""}', "a table of lower-case hyphenated names"),
    ("history", "enabled", "0", "true or false"),
    ("history", "checkpoint_interval", "0", "a number > 0"),
    ("daemon", "socket_path", '"/' + "s" * 120 + '"', "a file path of at most 103 bytes"),
    ("daemon", "max_frame_bytes", "0", "a size in bytes >= 1024"),
    ("daemon", "heartbeat_interval", "0", "a number > 0"),
    ("daemon", "heartbeat_misses", "0", "an integer >= 1"),
]


@pytest.mark.parametrize(("section", "key", "value", "allowed"), BAD_FILE_VALUES)
def test_bad_file_value_names_key_file_line_and_what_is_allowed(
    base_env: dict[str, str],
    write_config: Callable[[str], Path],
    section: str | None,
    key: str,
    value: str,
    allowed: str,
) -> None:
    header = f"[{section}]\n" if section else ""
    path = write_config(f"# aiway\n{header}{key} = {value}\n")
    dotted = f"{section}.{key}" if section else key
    line = 3 if section else 2

    with pytest.raises(ConfigError) as caught:
        load_settings(config_path=path, env=base_env)

    message = str(caught.value)
    assert message.startswith(f"{dotted} = ")
    assert f" in {path}:{line}: expected {allowed}" in message
    assert caught.value.problems == (message,)


def test_example_message_reads_as_documented(
    base_env: dict[str, str], write_config: Callable[[str], Path]
) -> None:
    path = write_config('[ollama]\nidle_timeout = "abc"\n')

    with pytest.raises(ConfigError) as caught:
        load_settings(config_path=path, env=base_env)

    assert str(caught.value) == f'ollama.idle_timeout = "abc" in {path}:2: expected a number > 0'


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("AIWAY_OLLAMA_IDLE_TIMEOUT", "abc", 'ollama.idle_timeout = "abc" from env'),
        ("AIWAY_BACKEND", "", 'backend = "" from env'),
        ("AIWAY_EMBEDDED_THREADS", "1.5", 'embedded.threads = "1.5" from env'),
        ("AIWAY_AVATAR_REDUCE_MOTION", "perhaps", 'avatar.reduce_motion = "perhaps" from env'),
        ("AIWAY_OLLAMA_OPTIONS", "{num_ctx: 1}", 'ollama.options = "{num_ctx: 1}" from env'),
        ("OLLAMA_HOST", "not a host", 'ollama.host = "not a host" from env'),
    ],
)
def test_bad_env_value_names_key_and_variable(
    base_env: dict[str, str], variable: str, value: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env={**base_env, variable: value})

    assert str(caught.value).startswith(f"{expected} {variable}: expected ")


def test_bad_flag_value_names_key_and_flag(base_env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env=base_env, overrides={"avatar.fps": 0})

    assert str(caught.value) == (
        "avatar.fps = 0 from flag --avatar-fps: expected a number > 0 and <= 60"
    )


def test_unknown_key_in_a_section_lists_the_section_keys(
    base_env: dict[str, str], write_config: Callable[[str], Path]
) -> None:
    path = write_config("[ollama]\nidle_timeout = 3\nidel_timeout = 3\n")

    with pytest.raises(ConfigError) as caught:
        load_settings(config_path=path, env=base_env)

    assert str(caught.value) == (
        f"unknown key ollama.idel_timeout in {path}:3 (did you mean idle_timeout?);"
        " the keys of [ollama] are host, default_model, connect_timeout, idle_timeout,"
        " total_timeout, health_timeout, keep_alive, options"
    )


def test_unknown_top_level_key_lists_keys_and_sections(
    base_env: dict[str, str], write_config: Callable[[str], Path]
) -> None:
    path = write_config('modle = "x"\n')

    with pytest.raises(ConfigError) as caught:
        load_settings(config_path=path, env=base_env)

    message = str(caught.value)
    assert message.startswith(f"unknown key modle in {path}:1 (did you mean model?);")
    assert "the top-level keys are backend, model, system_prompt, log_file, log_level," in message
    assert "[ollama], [embedded]" in message


def test_unknown_section_is_named(
    base_env: dict[str, str], write_config: Callable[[str], Path]
) -> None:
    path = write_config("[olama]\nhost = 'x'\n")

    with pytest.raises(
        ConfigError, match=r"unknown key olama in .*:2 \(did you mean \[ollama\]\?\)"
    ):
        load_settings(config_path=path, env=base_env)


def test_section_that_is_not_a_table_is_an_error(
    base_env: dict[str, str], write_config: Callable[[str], Path]
) -> None:
    path = write_config("avatar = 3\n")

    with pytest.raises(ConfigError, match=r"avatar = 3 in .*:1: expected a table \[avatar\]"):
        load_settings(config_path=path, env=base_env)


def test_unknown_flag_key_is_an_error(base_env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env=base_env, overrides={"ollama.idle_timout": 3})

    assert str(caught.value).startswith(
        "unknown setting ollama.idle_timout from flag --ollama-idle-timout"
        " (did you mean ollama.idle_timeout?)"
    )


def test_invalid_toml_names_the_file_and_the_line(
    base_env: dict[str, str], write_config: Callable[[str], Path]
) -> None:
    path = write_config("[ollama\nhost = 1\n")

    with pytest.raises(ConfigError, match=rf"config file {path} is not valid TOML: .*line 1"):
        load_settings(config_path=path, env=base_env)


def test_unreadable_config_file_is_an_error_even_by_default(
    base_env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "xdg-config" / "aiway" / "config.toml").mkdir(parents=True)

    with pytest.raises(ConfigError, match="cannot be read"):
        load_settings(env=base_env)


def test_values_out_of_order_name_both_keys_and_sources(
    base_env: dict[str, str], write_config: Callable[[str], Path]
) -> None:
    path = write_config("[supervision]\nbackoff_initial = 10.0\n")

    with pytest.raises(ConfigError) as caught:
        load_settings(config_path=path, env=base_env)

    assert str(caught.value) == (
        f"supervision.backoff_initial = 10.0 (file {path}) must not exceed"
        " supervision.backoff_max = 5.0 (default)"
    )


def test_every_problem_is_reported_at_once(
    base_env: dict[str, str], write_config: Callable[[str], Path]
) -> None:
    path = write_config('backend = "cloud"\n[avatar]\nfps = 0\nsize = "huge"\n')
    env = {**base_env, "AIWAY_EMBEDDED_THREADS": "zero"}

    with pytest.raises(ConfigError) as caught:
        load_settings(config_path=path, env=env, overrides={"daemon.heartbeat_misses": 0})

    keys = [problem.split(" = ", 1)[0] for problem in caught.value.problems]
    assert keys == [
        "backend",
        "avatar.fps",
        "avatar.size",
        "embedded.threads",
        "daemon.heartbeat_misses",
    ]


def test_default_socket_path_too_long_for_a_socket_is_a_config_error(
    base_env: dict[str, str],
) -> None:
    env = {**base_env, "XDG_RUNTIME_DIR": "/run/" + "r" * 120}

    with pytest.raises(ConfigError) as caught:
        load_settings(env=env)

    assert str(caught.value).startswith("daemon.socket_path = ")
    assert "from the default place: expected a file path of at most 103 bytes" in str(caught.value)
