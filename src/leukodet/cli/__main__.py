"""``python -m leukodet.cli``: the ``leukodet`` command line."""

from . import main

main()
