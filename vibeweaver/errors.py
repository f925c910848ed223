"""The exception hierarchy: every deliberate vibeweaver error derives from VibeweaverError."""

from __future__ import annotations


class VibeweaverError(Exception):
    """Base of every deliberate vibeweaver error."""


class ConfigError(VibeweaverError):
    """The configuration is unusable (bad flag, env var, TOML file, path or URL)."""


class StartupError(VibeweaverError):
    """The system could not start (a port in use, an unreadable data dir, a failing actor)."""


class StartCancelled(StartupError):
    """A stop was asked for while the system was still starting (waiting for its database)."""


class ActorUnavailable(VibeweaverError):
    """An actor is dead or restarting and could not take the message (counted as a dead letter)."""


class ActorTimeout(VibeweaverError):
    """An ask was not answered within its timeout."""


class StoreError(VibeweaverError):
    """The session store refused or failed a read or write (disk full, locked, constraint)."""


class NotConnected(VibeweaverError):
    """A call needs hootenanny and the link is disabled or the peer does not answer."""
