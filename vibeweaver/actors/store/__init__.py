"""The SessionStore actor, its client and its messages.

`SessionStore` and `StoreClient` are imported on first use: the kernel process uses the client and
the messages, never the actor (and peewee and the database drivers it pulls in).
"""

from typing import TYPE_CHECKING, Any

from vibeweaver.actors.store import messages

if TYPE_CHECKING:
    from vibeweaver.actors.store.actor import SessionStore
    from vibeweaver.actors.store.client import StoreClient

__all__ = ["SessionStore", "StoreClient", "messages"]


def __getattr__(name: str) -> Any:
    if name == "SessionStore":
        from vibeweaver.actors.store.actor import SessionStore

        return SessionStore
    if name == "StoreClient":
        from vibeweaver.actors.store.client import StoreClient

        return StoreClient
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
