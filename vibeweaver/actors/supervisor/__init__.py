"""The supervisor actor: restarts crashed actors within a restart budget."""

from vibeweaver.actors.supervisor.actor import Supervisor

__all__ = ["Supervisor"]
