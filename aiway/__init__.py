"""aiway: a local AI assistant for the terminal, built as an actor system on asyncio.

The package maps the repository's rooms into one import name:
``aiway.actors`` (the runtime, the protocol and every actor, the daemon's
server side among them), ``aiway.ui`` (the command line, the terminal UI,
the headless surface and the client link) and ``aiway.config`` (settings and
the persona). docs/ARCHITECTURE.md is the map.
"""

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("aiway-assistant")
except _metadata.PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
