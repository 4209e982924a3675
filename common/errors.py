"""Error classes shared by the encoder, the decoder and the tools.

Every error a user can cause is one of these. The command-line shells catch ``IcmError``,
print ``error: <message>`` on one line and exit with the class's documented status
(see ``docs/usage.md``). Anything else is a bug in this software.
"""


class IcmError(Exception):
    """Base class: a clear, one-line, user-facing error."""

    exit_code = 1


class InputError(IcmError):
    """A missing, unreadable or unsupported input file."""

    exit_code = 3


class OutputError(IcmError):
    """An output file that cannot be written (a folder, a path under a file, no permission, disk full)."""

    exit_code = 3


class BitstreamError(IcmError):
    """A bitstream that is truncated, corrupted or not an ICM bitstream."""

    exit_code = 4


class LevelLimitError(BitstreamError):
    """A header value beyond the level limits (or beyond what the syntax allows)."""

    exit_code = 5


class HashMismatchError(IcmError):
    """The decoded output does not match the decoded-output hash carried in the stream."""

    exit_code = 6


class ResourceError(IcmError):
    """A missing external resource: ffmpeg, a VTM executable, model weights, data."""

    exit_code = 7


class InnerCodecError(IcmError):
    """The inner codec (VVenC/VTM/ffmpeg) failed on data that passed our own checks."""

    exit_code = 8


class ConfigError(IcmError):
    """An unknown tool, a bad quality/QP value or an inconsistent option."""

    exit_code = 2
