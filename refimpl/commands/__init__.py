"""The bodies of the ``refimpl`` sub-commands; :mod:`refimpl.cli` only parses arguments.

The errors the commands raise for problems a user can fix, and the exit status of each kind,
are in :mod:`refimpl.commands.errors`.
"""

from refimpl.commands.errors import EXIT_STATUSES, CheckpointError, DataFileError

__all__ = ["EXIT_STATUSES", "CheckpointError", "DataFileError"]
