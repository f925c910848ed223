"""`vibeweaver console`: the live admin console (Textual), polling the admin JSON once a second.

Layout (fits 80x24): a summary line (address, uptime, session, dead letters, stuck actors or the
connection error), the actor table (sortable; stuck rows marked `!` and drawn in red; at 80 columns
every column but the message rate and the last error, which wider screens add), and a lower
pane that shows the system view (sockets, rules, dead letters, database, and the actors' last
errors when the table has no room for them) or, after Enter on a row (sorted or not),
that actor's detail (current message, queued messages, per-type timings, recent messages, last
error, the actor thread's stack and, for the kernel, where the running cell is on its eval
thread). Keys: q quit, s/r sort column/direction (or click a header), Enter/d detail, Esc back.
All data comes over HTTP through `AdminClient`; fetching happens on a
worker thread so a slow or vanished service never freezes the UI.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Static
from textual.widgets.data_table import CellDoesNotExist

from vibeweaver.console.client import AdminClient, AdminError
from vibeweaver.console.render import (
    COLUMNS,
    SORT_KEYS,
    Column,
    columns_for_width,
    last_error_lines,
    pad,
    rates_between,
    render_detail,
    render_system,
    row_cells,
    row_level,
    sort_actors,
    stuck_summary,
    summary_line,
)

REFRESH_S = 1.0
FETCH_TIMEOUT_S = 1.5
EXIT_OK = 0

ROW_STYLES = {"ok": "", "stuck": "bold red", "trouble": "yellow", "down": "dim"}


@dataclass(slots=True)
class Snapshot:
    """One poll's result, handed from the worker thread to the UI thread."""

    actors: list[dict[str, Any]] = field(default_factory=list)
    system: dict[str, Any] | None = None
    detail: dict[str, Any] | None = None
    error: str | None = None
    taken_at: float = 0.0


class ConsoleApp(App[int]):
    """The admin console; see the module docstring."""

    TITLE = "vibeweaver console"
    CSS = """
    Screen { layout: vertical; }
    #summary { height: 1; background: $panel; color: $text; }
    #summary.stuck { background: darkred; color: white; text-style: bold; }
    #summary.error { background: $error; color: white; text-style: bold; }
    #actors { height: auto; max-height: 14; scrollbar-size-vertical: 1; }
    #pane-title { height: 1; background: $panel; color: $text-muted; }
    #pane { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit_console", "Quit"),
        Binding("s", "next_sort", "Sort"),
        Binding("r", "reverse_sort", "Reverse"),
        Binding("d", "toggle_detail", "Detail"),
        Binding("escape", "close_detail", "Back", show=False),
    ]

    def __init__(self, client: AdminClient, *, refresh_s: float = REFRESH_S) -> None:
        super().__init__()
        self.client = client
        self.refresh_s = refresh_s
        self.sort_key = "start"
        self.sort_reverse = False
        self.selected: str | None = None
        self.detail_open = False
        self.actors: list[dict[str, Any]] = []
        self.system: dict[str, Any] | None = None
        self.detail: dict[str, Any] | None = None
        self.error: str | None = None
        self.rates: dict[str, float] = {}
        self._previous: tuple[float, list[dict[str, Any]]] | None = None
        self._columns: list[Column] = []
        self._row_order: list[str] = []
        self.polls = 0
        self._mounted = False

    # -- layout -----------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static("connecting…", id="summary")
        yield DataTable(id="actors", cursor_type="row", cell_padding=0, zebra_stripes=False)
        yield Static("", id="pane-title")
        with VerticalScroll(id="pane"):
            yield Static("", id="pane-text")
        yield Footer()

    def on_mount(self) -> None:
        self._mounted = True
        self.query_one("#actors", DataTable).focus()
        self.fetch()
        self.set_interval(self.refresh_s, self.fetch)

    def on_resize(self) -> None:
        self._columns = []  # re-chosen for the new width on the next redraw
        self._redraw()

    # -- polling (worker thread) ------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="fetch")
    def fetch(self) -> None:
        """Read the admin JSON on a worker thread and hand it to the UI thread."""
        snapshot = Snapshot(taken_at=time.monotonic())
        try:
            snapshot.actors = self.client.actors()
            if self.detail_open and self.selected is not None:
                snapshot.detail = self.client.actor(self.selected)
            else:
                snapshot.system = self.client.system()
        except AdminError as exc:
            snapshot.error = exc.short
        self.call_from_thread(self.apply, snapshot)

    def apply(self, snapshot: Snapshot) -> None:
        """Take one poll's result and redraw (UI thread)."""
        self.polls += 1
        self.error = snapshot.error
        if snapshot.error is None:
            if self._previous is not None:
                then, before = self._previous
                self.rates = rates_between(before, snapshot.actors, snapshot.taken_at - then)
            self._previous = (snapshot.taken_at, snapshot.actors)
            self.actors = snapshot.actors
            if snapshot.system is not None:
                self.system = snapshot.system
            self.detail = snapshot.detail
        self._redraw()

    # -- drawing ----------------------------------------------------------------------------------

    def _redraw(self) -> None:
        if not self._mounted:
            return
        width = max(40, self.size.width)
        self._draw_summary(width)
        self._draw_table(width)
        self._draw_pane(width)

    def _draw_summary(self, width: int) -> None:
        summary = self.query_one("#summary", Static)
        summary.set_class(self.error is not None, "error")
        stuck = stuck_summary(self.actors, width)
        summary.set_class(self.error is None and stuck is not None, "stuck")
        if self.error is not None:
            summary.update(Text(f"disconnected (retrying) {self.error}"[:width]))
        elif stuck is not None:
            summary.update(Text(stuck))
        elif self.system is not None:
            summary.update(Text(summary_line(self.system, self.client.base_url, width)))
        else:
            summary.update(Text(f"vibeweaver {self.client.base_url}"))

    def _draw_table(self, width: int) -> None:
        table = self.query_one("#actors", DataTable)
        if not self._columns:
            # one leading space per cell is the column gap; keep 1 column for the scrollbar
            # (80 columns then hold every column but the rate and the last error)
            self._columns = columns_for_width(width - 2)
            table.clear(columns=True)
            for column in self._columns:
                table.add_column(self._title(column), width=column.width + 1, key=column.key)
            self._row_order = []
        else:
            for column in self._columns:
                table.columns[column.key].label = self._title(column)  # type: ignore[index]
        ordered = sort_actors(
            self.actors, self.sort_key, reverse=self.sort_reverse, rates=self.rates
        )
        order = [str(actor.get("name")) for actor in ordered]
        if order != self._row_order:
            table.clear()
            for actor in ordered:
                table.add_row(*self._cells(actor), key=str(actor.get("name")))
            self._row_order = order
            if self.selected in order:
                table.move_cursor(row=order.index(self.selected), animate=False)
        else:
            for actor in ordered:
                for column, cell in zip(self._columns, self._cells(actor), strict=True):
                    table.update_cell(str(actor.get("name")), column.key, cell)
        if self.selected is None and order:
            self.selected = order[min(table.cursor_row, len(order) - 1)]
        table.refresh()

    def _title(self, column: Column) -> Text:
        title = column.title
        if column.key != self.sort_key:
            return Text(" " + pad(title, column), style="bold")
        ascending = not column.descending
        if self.sort_reverse:
            ascending = not ascending
        arrow = "▲" if ascending else "▼"
        if len(title) < column.width:
            return Text(" " + pad(title + arrow, column), style="bold")
        # a title as wide as its column keeps its letters: the arrow takes the gap before it
        return Text(arrow + pad(title, column), style="bold")

    def _cells(self, actor: Mapping[str, Any]) -> list[Text]:
        style = ROW_STYLES[row_level(actor)]
        cells = row_cells(actor, self._columns, self.rates)
        return [Text(" " + cell, style=style) for cell in cells]

    def _draw_pane(self, width: int) -> None:
        title = self.query_one("#pane-title", Static)
        text = self.query_one("#pane-text", Static)
        pane_width = width - 2
        sort_note = f"sort: {self.sort_key}{' reversed' if self.sort_reverse else ''}"
        if self.detail_open and self.selected is not None:
            hint = f"Esc: back · Tab: scroll · {sort_note}"
            title.update(Text(f" detail: {self.selected}  ({hint})"[:width]))
            if self.detail is None or self.detail.get("name") != self.selected:
                text.update(Text("loading…"))
            else:
                text.update(Text("\n".join(render_detail(self.detail, width=pane_width))))
        else:
            title.update(Text(f" system  (Enter: actor detail · {sort_note})"[:width]))
            if self.system is None:
                text.update(Text("waiting for the first snapshot…"))
            else:
                lines = render_system(self.system, width=pane_width)
                errors = last_error_lines(self.actors, pane_width)
                if errors and all(column.key != "last_error" for column in self._columns):
                    lines += ["last errors:", *errors]  # the table has no room for them
                text.update(Text("\n".join(lines)))

    # -- events and actions -----------------------------------------------------------------------

    def _cursor_name(self) -> str | None:
        """The actor under the table's cursor (None for an empty table)."""
        table = self.query_one("#actors", DataTable)
        if table.row_count == 0:
            return None
        try:
            return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except CellDoesNotExist:
            return None

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        name = event.row_key.value
        # a re-sort rebuilds the rows: the cursor passes row 0 on its way back to the selected
        # actor, and that highlight arrives late; only the cursor's current row counts
        if name is None or name == self.selected or name != self._cursor_name():
            return
        self.selected = name
        if self.detail_open:
            self.detail = None
            self._redraw()
            self.fetch()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter: open the detail of the row under the cursor (closes it when already shown)."""
        name = event.row_key.value
        if name is None:
            return
        if self.detail_open and name == self.selected:
            self.action_close_detail()
            return
        self.selected = name
        self._open_detail()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        key = event.column_key.value
        if key is None:
            return
        if key == self.sort_key:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_key, self.sort_reverse = key, False
        self._redraw()

    def action_next_sort(self) -> None:
        """Sort by the next visible column (after the last one: the service's start order)."""
        visible = ["start", *(c.key for c in self._columns)] if self._columns else list(SORT_KEYS)
        index = visible.index(self.sort_key) if self.sort_key in visible else 0
        self.sort_key = visible[(index + 1) % len(visible)]
        self.sort_reverse = False
        self._redraw()

    def action_reverse_sort(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self._redraw()

    def action_toggle_detail(self) -> None:
        if self.detail_open:
            self.action_close_detail()
            return
        self.selected = self._cursor_name() or self.selected
        self._open_detail()

    def _open_detail(self) -> None:
        if self.selected is None:
            return
        self.detail_open = True
        self.detail = None
        self._redraw()
        self.fetch()

    def action_close_detail(self) -> None:
        if not self.detail_open:
            return
        self.detail_open = False
        self._redraw()
        self.fetch()

    def action_quit_console(self) -> None:
        self.exit(EXIT_OK)


def run_console(*, http: str | None = None, token: str | None = None) -> int:
    """Run the console until `q`; a service that cannot be reached at start raises AdminError
    (one line on stderr from the CLI) before the screen is taken over."""
    client = AdminClient(http, token, timeout=FETCH_TIMEOUT_S)
    client.actors()  # fail fast, with the client's one-line message, if nothing answers
    result = ConsoleApp(client).run()
    return EXIT_OK if result is None else result


__all__ = ["COLUMNS", "ConsoleApp", "run_console"]
