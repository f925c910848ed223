"""The DSL reference served by `weave_help` (MCP and ZeroMQ): topics overview, api, rules,
session, examples.

The api topic's list of generation spaces is built from the generation layer's table
(`vibeweaver.generation.SPACES` and `ALIASES`), so it names exactly the spaces sample() accepts."""

from __future__ import annotations

from vibeweaver.generation import ALIASES, SPACES

OVERVIEW = """\
vibeweaver: a persistent Python kernel for making music.

Each weave_eval runs Python in one namespace that survives between calls (variables, functions,
imports stay). The last expression of a cell is returned as `result`; print() output comes back as
stdout. Top-level `await` works. A cell is interrupted at its timeout (default 20 s) and the
namespace survives.

The music DSL is pre-imported (also `import vibeweaver`):
  session(name, vibe), tempo(bpm), marker(name, beat)          -- session state, persisted
  sample(space, prompt) / latent(space, prompt, deadline)       -- generation jobs (need hootenanny)
  schedule(content, at), audition(content)                      -- the timeline (need hootenanny)
  play(), pause(), stop(), seek(beat)                           -- transport (clock + hootenanny)
  @on_beat(n), @on_marker(name), @on_artifact(tag), @on_transport(state), @on_job(id)
                                                                -- reactive rules, persisted as data
  beat, transport, timeline, jobs, artifacts, rules()           -- read-only state

Rules survive restarts: a decorated function is stored as source and re-defined at start.
weave_session gives a terse summary to resume from after a context reset.
Topics: overview, api, rules, session, examples."""

_API = """\
Session and time
  session(name=None, vibe=None, load=None) -> Session   open/create a session; set its vibe
  tempo(bpm) -> float                                   set the tempo (20-999 BPM)
  marker(name, beat, metadata=None) -> Marker           place (or move) a named marker
  timeline.markers -> list[Marker]
  beat.current, beat.tempo                              the logical clock, in beats and BPM
  transport.state ('stopped'|'playing'|'paused'), transport.position

Transport (moves the local clock; forwarded to hootenanny when connected)
  play(), pause(), stop(), seek(beat)

Generation (hootenanny)
  kick = await sample("orpheus_loops", "four on the floor kick")  -> Artifact
  a, b = await gather(sample(...), sample(...))
  ref = latent("musicgen", "warm pad", deadline=256, priority="high") -> LatentRef
        ref.cancel(), await ref, ref.materialize()
  jobs -> recent jobs; artifacts -> the last 100 artifacts

{spaces}

Timeline (hootenanny)
  schedule(content, at, duration=None, gain=0.8)   place an artifact on the timeline at a beat
  audition(content, duration=None)                 listen to an artifact now

Rules
  rules() -> RuleList: .disable(id), .enable(id), .delete(id); each rule has a repr"""


def spaces_text() -> str:
    """The generation spaces, one entry each: name (aliases), what it makes, its parameters."""
    lines = [
        "Generation spaces (first argument of sample() and latent())",
        "  inference={name: value} sets the parameters listed under each space",
    ]
    for name, space in SPACES.items():
        aliases = sorted(alias for alias, target in ALIASES.items() if target == name)
        title = f"{name} (also {', '.join(aliases)})" if aliases else name
        what = space.description or space.tool
        if space.prompt_required:
            what += "; prompt required"
        lines.append(f"  {title} -- {what}")
        lines.append(f"      inference: {', '.join(space.parameters()) or '(none)'}")
    return "\n".join(lines)


API = _API.replace("{spaces}", spaces_text())

RULES = """\
Rules are trigger -> action pairs stored in the session database. They survive restarts.

  @on_beat(4)                 fires on every beat b with b % 4 == 0 that the clock passes
  def kick(beat): ...         (the function receives the beat number)
  @on_marker("drop")          when the transport passes the marker
  @on_artifact(tag="type:midi")  when hootenanny announces a new artifact (tag optional)
  @on_transport("playing")    when the transport changes to that state
  @on_job(job_id)             when that job completes or fails

Options on every decorator: priority="critical"|"high"|"normal"|"low"|"idle", one_shot=True.
Rules matching the same event run in priority order, ties in creation order.
A decorated function is stored as its source text; after a restart the kernel re-defines it. If the
source no longer runs, the rule is disabled and shown in weave_session.

  rules()                  list them
  rules().disable(rule_id) / .enable(rule_id) / .delete(rule_id)"""

SESSION = """\
A session is the persistent context of a piece: name, vibe, tempo, rules, markers, history.

  session()                               the current session
  session(name="warehouse_3am", vibe="dark minimal techno")   open or create, set the vibe
  session(load="other_session")           switch to an existing session

weave_session returns a terse summary (vibe, tempo, transport, active rules, markers, recent
history) so that an agent can resume after a context reset. weave_reset clears Python names
(interrupting a cell that is still running); weave_reset(clear_session=True) also deletes the
session's rules, markers and history.

What survives a restart of the service: the session, its rules (callbacks are re-defined from
their stored source), markers, history, and a snapshot of jobs, the last 100 artifacts and the
transport (a transport that was playing comes back paused at its position). Python variables do
not survive: keep what matters in rules, markers or artifacts."""

EXAMPLES = """\
session(name="warehouse_3am", vibe="dark minimal techno, industrial")
tempo(130)
marker("drop", 256)

kick = await sample("orpheus_loops", "driving techno kick")
schedule(kick, at=0)

@on_beat(32)
def refresh_hats(beat):
    print("new hats at", beat)

@on_marker("drop")
def drop(beat):
    play()

pad = latent("musicgen", "dark evolving pad", deadline=256, priority="high")
play()"""

TOPICS: dict[str, str] = {
    "overview": OVERVIEW,
    "api": API,
    "rules": RULES,
    "session": SESSION,
    "examples": EXAMPLES,
}


def help_text(topic: str = "") -> tuple[str, str]:
    """(topic actually shown, text). Unknown or empty topics show the overview."""
    key = topic.strip().lower()
    if key in TOPICS:
        return key, TOPICS[key]
    if key:
        known = ", ".join(TOPICS)
        return "overview", f"Unknown topic {topic!r}; topics: {known}.\n\n{OVERVIEW}"
    return "overview", OVERVIEW
