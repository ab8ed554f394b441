"""``python -m aiway``: the same command line as ``aiway``."""

from aiway.ui.cli import main

raise SystemExit(main())
