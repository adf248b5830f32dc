"""The bodies of the ``refimpl`` sub-commands; :mod:`refimpl.cli` only parses arguments.

The errors below are what the commands raise for problems a user can fix; ``refimpl.cli``
turns each kind into one line on stderr and its own exit status (table in ``refimpl --help``).
"""


class DataFileError(ValueError):
    """A data set's file is corrupt, fails its checksum, or holds content that was refused."""


class CheckpointError(ValueError):
    """A checkpoint cannot be used: corrupt, of another model, or without the metadata needed."""
