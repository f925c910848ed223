"""weave_help is checked against the code it documents: every DSL name is in it, the attributes
it lists for Job, Artifact, Region, LatentRef and LatentResult exist, and each trigger's callback
arguments are the ones the scheduler passes."""

from __future__ import annotations

import inspect
import re

import pytest

from vibeweaver._dsl_names import ALL_NAMES
from vibeweaver.actors.scheduler.events import callback_args
from vibeweaver.dsl.help import help_text
from vibeweaver.dsl.latent import LatentRef, LatentResult
from vibeweaver.dsl.live import Artifact, Job, Region
from vibeweaver.scheduling.rules import (
    ArtifactSeen,
    BeatCrossed,
    JobFinished,
    MarkerHit,
    TransportChanged,
)
from vibeweaver.types import ArtifactId, JobId, TransportState

API = help_text("api")[1]
RULES = help_text("rules")[1]


def test_every_dsl_name_is_documented() -> None:
    text = help_text("overview")[1] + API
    missing = [name for name in sorted(ALL_NAMES) if not re.search(rf"\b{name}\b", text)]
    assert missing == []


@pytest.mark.parametrize(
    ("label", "cls"),
    [
        ("Job", Job),
        ("Artifact", Artifact),
        ("Region", Region),
        ("LatentRef", LatentRef),
        ("LatentResult", LatentResult),
    ],
)
def test_the_attributes_listed_for_each_object_exist(label: str, cls: type) -> None:
    match = re.search(rf"^  {label}: (.+?)(?=\n  \S|\n\n|\Z)", API, re.MULTILINE | re.DOTALL)
    assert match is not None, f"no attribute list for {label}"
    listing = re.sub(r"\([^()]*\)", "", " ".join(match.group(1).split())).split(";")[0]
    names = set()
    for part in listing.split(","):
        word = part.strip().removesuffix("()")
        if re.fullmatch(r"[a-z_]+", word):
            names.add(word)
    source = "\n".join(
        inspect.getsource(klass) for klass in cls.__mro__ if klass.__module__.startswith("vibe")
    )
    known = set(dir(cls)) | set(re.findall(r"self\.([a-z_]+)\s*[:=]", source))
    known |= set(re.findall(r"^    ([a-z_]+): ", source, re.MULTILINE))  # dataclass fields
    assert len(names) >= 3, (label, names)
    assert sorted(names - known) == [], label


def test_done_is_a_property_as_the_help_says() -> None:
    assert "`done` is a property" in API
    for cls in (Job, Region, LatentRef):
        assert isinstance(cls.__dict__.get("done") or cls.done, property), cls


@pytest.mark.parametrize(
    ("documented", "event", "expected"),
    [
        ("fn(beat)", BeatCrossed(beat=8, target_time=0.0), (8,)),
        ("fn(name)", MarkerHit(name="drop", beat=256.0), ("drop",)),
        (
            "fn(artifact_id, tags)",
            ArtifactSeen(artifact_id=ArtifactId("a1"), tags=("t",)),
            ("a1", ["t"]),
        ),
        ("fn(state)", TransportChanged(state=TransportState.PLAYING), ("playing",)),
        (
            "fn(job_id, state)",
            JobFinished(job_id=JobId("j1"), state="complete"),
            ("j1", "complete"),
        ),
    ],
)
def test_each_triggers_callback_arguments_are_documented(
    documented: str, event: object, expected: tuple[object, ...]
) -> None:
    assert documented in RULES
    assert callback_args(event) == expected  # type: ignore[arg-type]
