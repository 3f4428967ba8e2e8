"""The ``prefroute`` command line: ``evaluate``, ``assign``, ``train``, ``route``, and plug-ins.

Each sub-command lives in its own module exposing ``register(subparsers)``; adapters contribute
commands (``demo``) through the ``prefroute.commands`` entry-point group, so the core never imports
a framework. Commands share one error policy (:mod:`.main`: one line, exit status 2 for a bad
argument, 1 for a failure, a traceback only with ``--debug``), the argument types of :mod:`.args`
(checked while parsing, before any work) and the table options and loader of :mod:`.tables`.
"""

from .main import main

__all__ = ["main"]
