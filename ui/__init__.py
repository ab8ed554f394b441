"""Surfaces and entry points: the CLI, the headless log surface and the terminal UI."""
