"""DeadlinePlanner: generation-time statistics per space and the latent jobs waiting to start.

State owned: per-space statistics (re-read from the store's generation_stats in `setup`) and the
planner's capacity. Messages accepted: `GetPlannerStatus` (ask).
"""

from __future__ import annotations

from vibeweaver.actors.base import ActorContext, WeaverActor, handles
from vibeweaver.actors.planner import messages as m
from vibeweaver.actors.store import StoreClient
from vibeweaver.config import Config
from vibeweaver.persistence.records import GenerationStatsRecord


class DeadlinePlanner(WeaverActor):
    """Owns generation statistics; see the module docstring."""

    def __init__(self, context: ActorContext, *, config: Config, capacity: int = 1) -> None:
        super().__init__(context)
        self.config = config
        self.capacity = capacity
        self.store = StoreClient(self.system.handle("store"))
        self.stats: dict[str, GenerationStatsRecord] = {}

    def setup(self) -> None:
        self.stats = {record.space: record for record in self.store.list_generation_stats()}

    @handles(m.GetPlannerStatus)
    def status(self, message: m.GetPlannerStatus) -> m.PlannerStatus:
        return m.PlannerStatus(
            capacity=self.capacity,
            spaces=tuple(
                (r.space, r.sample_count, r.avg_duration_ms, r.p95_duration_ms)
                for r in sorted(self.stats.values(), key=lambda r: r.space)
            ),
        )
