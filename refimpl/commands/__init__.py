"""The bodies of the ``refimpl`` sub-commands; :mod:`refimpl.cli` only parses arguments."""
