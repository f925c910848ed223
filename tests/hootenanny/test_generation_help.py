"""weave_help's api topic lists the generation spaces straight from the generation layer's table."""

from __future__ import annotations

import re

from vibeweaver.dsl.help import help_text, spaces_text
from vibeweaver.generation import ALIASES, SPACES, resolve_space

ENTRY = re.compile(
    r"^  (?P<name>[a-z0-9_]+)(?: \(also (?P<aliases>[a-z0-9_, ]+)\))? -- (?P<what>.+)$"
)


def _entries(text: str) -> dict[str, tuple[set[str], str, str]]:
    """name -> (aliases, description, the inference line) of each space entry in `text`."""
    lines = text.splitlines()
    found: dict[str, tuple[set[str], str, str]] = {}
    for index, line in enumerate(lines):
        match = ENTRY.match(line)
        if match is None:
            continue
        aliases = set(filter(None, (match["aliases"] or "").split(", ")))
        found[match["name"]] = (aliases, match["what"], lines[index + 1].strip())
    return found


def test_the_api_topic_lists_exactly_the_generation_spaces_in_table_order() -> None:
    topic, text = help_text("api")
    assert topic == "api"
    assert spaces_text() in text
    entries = _entries(text)
    assert list(entries) == list(SPACES)


def test_each_entry_shows_the_aliases_description_and_parameters_of_its_space() -> None:
    for name, (aliases, what, inference) in _entries(help_text("api")[1]).items():
        space = SPACES[name]
        assert aliases == {alias for alias, target in ALIASES.items() if target == name}
        assert what.startswith(space.description)
        assert what.endswith("prompt required") == space.prompt_required
        assert inference == f"inference: {', '.join(space.parameters())}"


def test_every_name_in_the_help_resolves_to_its_space() -> None:
    for name, (aliases, _what, _inference) in _entries(help_text("api")[1]).items():
        for given in (name, *aliases):
            assert resolve_space(given).name == name


def test_the_spaces_section_fits_the_help_width() -> None:
    assert max(len(line) for line in spaces_text().splitlines()) <= 100
