"""The SessionStore actor, its client and its messages."""

from vibeweaver.actors.store import messages
from vibeweaver.actors.store.actor import SessionStore
from vibeweaver.actors.store.client import StoreClient

__all__ = ["SessionStore", "StoreClient", "messages"]
