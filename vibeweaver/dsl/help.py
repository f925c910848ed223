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
namespace survives. A misspelt name gets a "Did you mean".

The music DSL is pre-imported (also `import vibeweaver`):
  session(name, vibe), tempo(bpm), marker(name, beat)          -- session state, persisted
  sessions(), history(n, kind)                                  -- stored sessions, older history
  sample(space, prompt) / latent(space, prompt, deadline)       -- generation jobs (need hootenanny)
  schedule(content, at), audition(content)                      -- the timeline (need hootenanny)
  play(), pause(), stop(), seek(beat)                           -- transport (clock + hootenanny)
  @on_beat(n), @on_marker(name), @on_artifact(tag), @on_transport(state), @on_job(job)
                                                                -- reactive rules, persisted as data
  beat, transport, timeline, jobs, artifacts, rules()           -- read-only state

Rules survive restarts: a decorated function is stored as source and re-defined at start. Python
variables do not survive a restart (see the rules topic for callbacks that do).
weave_session gives a terse summary to resume from after a context reset.
Topics: overview, api, rules, session, examples."""

_API = """\
Session and time
  session(name=None, vibe=None, load=None) -> Session   open/create a session; set its vibe
  sessions() -> every stored session, most recently used first (sessions()["jam"], .names);
                each has name, id, vibe, tempo_bpm, last_used_at, current
  history(n=20, kind=None) -> the session's n newest history entries, newest first (n 1-1000);
                kind filters by action: "sample", "schedule", "marker", "tempo", "rule", "eval",
                "callback", "notify", "callback_disabled", ...; each has id, action, params,
                result, success, at, kind
  tempo(bpm) -> float                                   set the tempo (20-999 BPM); tempo() reads
                                                        the clock's, which follows hootenanny
  marker(name, beat, metadata=None) -> Marker           place (or move) a named marker
  timeline.markers -> list[Marker]
  beat.current, beat.tempo                              the logical clock, in beats and BPM
  transport.state ('stopped'|'playing'|'paused'), transport.position

Transport (moves the local clock; forwarded to hootenanny when connected)
  play(), pause(), seek(beat)     pause() keeps the position; seek() keeps the state
  stop()                          stops AND rewinds to beat 0
  They act at once and are not awaitable: `await play()` is refused before the cell runs.
  With hootenanny configured but unreachable they raise NotConnected naming the endpoint within
  about 1 s, and nothing moves; with --hootenanny none the clock runs locally.

Generation (hootenanny)
  job = sample(space, prompt=None, inference=None, tags=None, *, timeout=None) -> Job
        tags: a string or list kept with the artifact; timeout: seconds for the whole job
        (default --generation-timeout). For job spaces sample() returns once hootenanny has
        named the job, so job.id is set at once. Unreachable hootenanny: GenerationFailed
        naming the endpoint within about 1 s.
  kick = await sample("orpheus_loops", "four on the floor kick")  -> Artifact
  a, b = await gather(sample(...), sample(...))
  Job: id (= job_id; None for direct spaces such as orpheus_*, abc), space, prompt,
       state ('pending'|'complete'|'failed'), done, error, artifact, duration_ms, result(),
       await job -> Artifact (raises GenerationFailed with the reason)
  Artifact: id (str(a) is the id), space, prompt, job_id, tags, creator, content_hash
  ref = latent("musicgen", "warm pad", deadline=256, priority="high") -> LatentRef
        deadline is an ABSOLUTE beat (not beats from now); the job starts at the latest moment
        that still finishes by it
  LatentRef: id (its rule id), space, prompt, deadline, priority, done, job_id (once it ended),
       state ('waiting' -> 'running' -> 'complete'|'failed'|'cancelled'; follows the job
       without an await), cancel(), materialize(), await ref -> LatentResult
  LatentResult: artifact_id (= id, str()), space, prompt, deadline, job_id, duration_ms, late
  `done` is a property on Job, Region and LatentRef: `if job.done:` (not job.done()).
  jobs -> recent jobs; artifacts -> the last 100 artifacts (with space and prompt; they come back
  after a restart)

{spaces}

Timeline (hootenanny)
  schedule(content, at, duration=None, gain=0.8) -> Region   place an artifact on the timeline
                                                   at beat `at` for `duration` beats (default 16)
  audition(content, duration=None) -> Region        hear it now, from the current beat; if it
                                                   started the transport it puts it back after
                                                   `duration` beats
  Region: region_id (once created), content_id, position, duration, gain, state, done, error;
          `await region` raises RegionFailed with hootenanny's reason in that cell

Rules
  rule(trigger, action, *, priority="normal", one_shot=False) -> a declarative rule, run by the
      scheduler itself (on time whatever a cell is doing); see the rules topic
      triggers: Beat(divisor), Marker(name), Transport(state), Artifact(tag=None),
                JobComplete(job_id), Deadline(beat)
      actions:  Sample(space, prompt=None, inference=None), Schedule(content, at, duration=None,
                gain=0.8), SampleAndSchedule(space, prompt, at, duration=None), Play(), Pause(),
                Stop(), Seek(beat), Audition(content, duration=None), Notify(message)
  @on_beat(4) ... -> a Python callback rule (runs in the kernel)
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

Declarative rules do their action in the service itself, without the kernel, so they fire on time
even while a cell runs or burns CPU:
  rule(Marker("drop"), Play())
  rule(Beat(32), SampleAndSchedule("musicgen", "fresh hats", at=64), priority="low")
  rule(Transport("playing"), Notify("we are live"), one_shot=True)
  rule(Deadline(256), Sample("musicgen", "dark pad"))     # ready by beat 256, like latent()
Notify's message goes to the history, the session summary and the `notifications` of the next
weave_eval result. In a cell, Marker(...) and Artifact(...) are these triggers.

Python callbacks are decorated functions (they run in the kernel, between a cell's awaits):

  @on_beat(4)                     fn(beat): every beat b with b % 4 == 0 that the clock passes
  @on_marker("drop")              fn(name): the marker's name, when the transport passes it
                                  (a name that is no marker yet gets a note with the closest one)
  @on_artifact(tag="type:midi")   fn(artifact_id, tags): a new artifact (with that tag, if given)
  @on_transport("playing")        fn(state): the transport changed to that state
  @on_job(job)                    fn(job_id, state): the job (a Job from sample() or its id)
                                  completed or failed; one-shot by default

Options on every decorator: priority="critical"|"high"|"normal"|"low"|"idle", one_shot=True.
Rules matching the same event run in priority order, ties in creation order.
A decorated function is stored as its source text; after a restart the kernel re-defines it. If the
source no longer runs, the rule is disabled and shown in weave_session.

A callback that fails 3 times in a row (an exception, or running past its 5 s limit) is disabled
with its last error: rules() shows it as "[disabled] — its callback failed 3 times in a row; last
error: NameError: ...", weave_session lists it under Disabled Rules, the history has a
callback_disabled entry, and the next weave_eval's stderr says so. A success resets the count.
Fix the cause, then rules().enable(fn) (or the rule id) turns it back on and starts the count over.

Python names are not persisted: after a restart (or weave_reset) your variables are gone, but
your decorated callbacks are defined again from their stored source. A callback that uses a
global made in another cell (hits.append(beat)) then fails with NameError and is disabled after
3 tries. Write callbacks that survive a restart:
  - create the global inside the callback:
        @on_beat(4)
        def count(beat):
            hits = globals().setdefault("hits", [])
            hits.append(beat)
  - or keep what must survive in the session, which is persisted: marker(name, beat,
    metadata={...}) and timeline.markers, rules() (fired counts), history().
Default arguments are evaluated when the callback is defined again, so def f(beat, gain=accent)
needs `accent` at start-up; a callback that cannot be defined is disabled with the error too.

  rules()                  list them
  rules().disable(rule_id) / .enable(rule_id) / .delete(rule_id)"""

SESSION = """\
A session is the persistent context of a piece: name, vibe, tempo, rules, markers, history,
artifacts and jobs.

  session()                               the current session
  session(name="warehouse_3am", vibe="dark minimal techno")   open or create, set the vibe
  session(load="other_session")           switch to an existing session
  sessions()                              every stored session with its last use
  history(n=20, kind=None)                older history, newest first

Started without --session, the service opens the session that was current when it last ran
(`default` on a new database); a switch is remembered for the next start.

weave_session returns a terse summary (vibe, tempo, transport, rules grouped when many, markers,
notifications, recent actions, the other stored sessions) so that an agent can resume after a
context reset. It only shows the current session's notifications and timing, and a notice that
stopped being true (an at-risk latent that finished on time) disappears. Successful evals are not
listed except the last; history() has the rest. weave_reset clears Python names (interrupting a
cell that is still running); weave_reset(clear_session=True) also deletes the session's rules,
markers and history.

What survives a restart of the service: the session, its rules (callbacks are re-defined from
their stored source), markers, history, jobs and artifacts with their space and prompt, and the
transport (captured when it moves; a transport that was playing comes back paused at its
position). Python variables do not survive: keep what matters in rules, markers or artifacts."""

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
def drop(name):
    play()

pad = latent("musicgen", "dark evolving pad", deadline=256, priority="high")   # beat 256
pad.state          # 'waiting', then 'running', 'complete' without an await
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
