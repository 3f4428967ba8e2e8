"""The ``prefroute`` command line: ``evaluate``, ``assign``, ``train``, and plug-in commands.

Each sub-command lives in its own module exposing ``register(subparsers)``; adapters contribute
commands (``demo``) through the ``prefroute.commands`` entry-point group, so the core never imports
a framework.
"""

from .main import main

__all__ = ["main"]
