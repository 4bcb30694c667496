"""Errors a user can act on: each message names the problem and the fix."""

from __future__ import annotations


class TuneDeskError(Exception):
    """Base for errors whose message is shown to the user as is."""


class DataError(TuneDeskError):
    """The dataset cannot be read or holds no usable row."""


class ModelError(TuneDeskError):
    """The model cannot be found, downloaded or loaded."""


class HubUnreachable(ModelError):
    """A hub download was asked for but the hub does not answer."""


class NaNLossError(TuneDeskError):
    """Training produced a NaN or infinite loss."""
