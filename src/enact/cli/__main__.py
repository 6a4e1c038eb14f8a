"""``python -m enact.cli``: the same as the ``enact`` command."""

from enact.cli import main

main()
