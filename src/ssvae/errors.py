"""The one exception type for user-facing errors.

Every problem a user can cause (bad shapes, values outside a decoder's support,
unknown options, missing data, unreadable checkpoints, a diverging run) raises
:class:`SsvaeError` with a one-line message that names the problem and the fix.
The command line prints that line and exits with status 2; Python callers can
catch it (it is a :class:`ValueError`).
"""


class SsvaeError(ValueError):
    """A problem with the user's input, data, options or files, with its fix."""


class TrainingDiverged(SsvaeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""
