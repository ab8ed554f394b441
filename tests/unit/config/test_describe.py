"""describe(): what `aiway config` prints, one line per key with its source."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from aiway.config import SETTING_KEYS, describe, format_value, load_settings


def test_describe_prints_one_line_per_key_after_the_file_comment(
    base_env: dict[str, str],
) -> None:
    loaded = load_settings(env=base_env)

    lines = describe(loaded).splitlines()

    assert lines[0] == f"# config file: {loaded.config_path} (not found; defaults apply)"
    assert [line.split(" = ", 1)[0] for line in lines[1:]] == [s.key for s in SETTING_KEYS]


def test_describe_names_each_source(
    base_env: dict[str, str], write_config: Callable[[str], Path]
) -> None:
    path = write_config('backend = "ollama"\n[ollama.options]\nnum_ctx = 4096\n')
    env = {**base_env, "OLLAMA_HOST": "gpu-box:11434", "REDUCE_MOTION": "1"}
    loaded = load_settings(config_path=path, env=env, overrides={"model": "qwen2.5:0.5b"})

    lines = describe(loaded).splitlines()

    assert lines[0] == f"# config file: {path}"
    assert 'backend = "ollama"  (file ' + str(path) + ")" in lines
    assert 'model = "qwen2.5:0.5b"  (flag --model)' in lines
    assert 'ollama.host = "gpu-box:11434"  (env OLLAMA_HOST)' in lines
    assert "ollama.options = {num_ctx = 4096}  (file " + str(path) + ")" in lines
    assert "avatar.reduce_motion = true  (env REDUCE_MOTION)" in lines
    assert "ollama.idle_timeout = 60.0  (default)" in lines
    assert "system_prompt = none (the packaged persona)  (default)" in lines


def test_describe_shows_filled_in_paths(base_env: dict[str, str], tmp_path: Path) -> None:
    lines = describe(load_settings(env=base_env)).splitlines()

    expected = tmp_path / "xdg-data" / "aiway" / "aiway.sqlite3"
    assert f'history.path = "{expected}"  (default)' in lines


def test_long_text_is_cut_short() -> None:
    shown = format_value("x" * 500)

    assert shown == '"' + "x" * 60 + '"... (500 chars)'


def test_format_value_writes_toml_literals() -> None:
    assert format_value(True) == "true"
    assert format_value(None) == "none"
    assert format_value(0.05) == "0.05"
    assert format_value({"num ctx": [1, "a"]}) == '{"num ctx" = [1, "a"]}'
