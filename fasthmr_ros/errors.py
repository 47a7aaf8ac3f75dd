"""Exceptions that carry a message meant for the user (the CLI prints them without a traceback)."""


class FastHMRError(Exception):
    """Base of every user-facing error of this package."""


class CheckpointError(FastHMRError):
    """A checkpoint is missing, unreadable, or does not match the architecture."""


class MissingFileError(FastHMRError, FileNotFoundError):
    """A required user-supplied file (weights, SMPL model) is not where it was looked for."""


class InputError(FastHMRError, ValueError):
    """Bad input data: an unreadable image, a degenerate box, an unusable CameraInfo."""
