"""Surfaces and entry points: the CLI, the headless log surface and the terminal UI."""

# Nothing is re-exported: the entry points are aiway.ui.cli.main (the command)
# and aiway.ui.tui.app.run_tui, and importing one surface must not load the others.
__all__: list[str] = []
