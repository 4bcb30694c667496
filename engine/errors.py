"""Every error TuneDesk raises on purpose, in one place. Each message names the problem and the fix.

All derive from `TuneDeskError`, whose message is shown to the user as is; front ends catch that one
class. The few that are also `ValueError`s stay so for callers that validate values.
"""

from __future__ import annotations


class TuneDeskError(Exception):
    """Base for errors whose message is shown to the user as is. Given a message of engine/text (a key and
    its values), the error reads as its English text and renders in the reader's language at the edge."""

    def __init__(self, message: object = "", *args: object):
        super().__init__(str(message), *args)
        self.text = message if hasattr(message, "render") else None

    def render(self, lang: str = "en") -> str:
        return self.text.render(lang) if self.text is not None else str(self)


class ConfigError(TuneDeskError, ValueError):
    """A config that cannot run; the message names every bad field and what it accepts."""


class DataError(TuneDeskError):
    """The dataset cannot be read or holds no usable row."""


class RowError(TuneDeskError, ValueError):
    """One row of a dataset cannot be used; the row is skipped and counted with this reason."""


class ModelError(TuneDeskError):
    """The model cannot be found, downloaded or loaded."""


class HubUnreachable(ModelError):
    """A hub download was asked for but the hub does not answer."""


class NaNLossError(TuneDeskError):
    """Training produced a NaN or infinite loss."""


class RunError(TuneDeskError):
    """An action on a run that cannot be done (unknown id, deleting a running run…)."""


class StorageError(TuneDeskError):
    """The outputs folder cannot be written: read-only, missing and not creatable, or full."""


class JobError(TuneDeskError):
    """An unknown job id, or waiting on a job that failed."""


class PathNotAllowed(TuneDeskError):
    """A shared or password-protected app was given a path outside the folders it may read or write."""


class CodeNotAllowed(TuneDeskError):
    """A shared or password-protected app was asked to run code it did not ship with."""
