"""The terminal UI: npyscreen on the main thread, the actor system on a second one.

``run_tui(settings)`` (in ``aiway.ui.tui.app``) is the entry point. The pieces, from
the actors to the terminal: ``surface`` (the surface actor) folds published
messages into the ``viewmodel``; the UI thread takes the changes into the
``render``-er, which lays out the ``conversation`` (wrapped by ``text``), the
``panels`` and the ``editor`` on a ``canvas``; ``screen`` is the npyscreen and
curses side; ``keys`` and ``controller`` turn keys into actions and messages;
``session`` runs the assistant on its own event-loop thread.
"""

# Nothing is re-exported (see above): importing one module of the UI does not load curses.
__all__: list[str] = []
