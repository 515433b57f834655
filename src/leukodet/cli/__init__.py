"""Command line: parses options and calls :mod:`leukodet.api`; no logic of its own.

``leukodet`` (and ``python -m leukodet.cli``) is the :func:`main` group; the commands live in
:mod:`.data_commands`, :mod:`.model_commands`, :mod:`.adapt_command`, :mod:`.sparse_commands`, :mod:`.pretrain_command` and
:mod:`.serve_command`. Every user error ends in one ``error: ...`` line on stderr and
exit status 2.
"""

from __future__ import annotations

from . import (  # noqa: F401  (registers the commands)
    adapt_command,
    crop_command,
    data_commands,
    model_commands,
    pretrain_command,
    propose_command,
    serve_command,
    sparse_commands,
)
from .base import main

__all__ = ["main"]
