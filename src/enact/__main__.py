"""``python -m enact``: the same as the ``enact`` command."""

from enact.cli import main

main()
