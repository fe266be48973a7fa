"""Mailboxes: each terminal's durable, ordered queue of messages not yet acknowledged.

Every message for a terminal gets the next output sequence number (OSN) of that terminal and a
mailbox row in the same commit as its journal row. It is sent once committed (if the terminal is
on line) and again after each sign-on until the terminal acknowledges it; the OSN lets the
terminal drop a duplicate. ``ACK.<osn>`` is cumulative, as in a session protocol: it
acknowledges every message up to and including that OSN.

The mailbox lives on disk: memory holds, per terminal, the OSNs waiting as runs of consecutive
numbers (``Queue``: one run, whatever the number of messages, until a dead letter splits it) and
each frame only until the commit that makes it durable, when it is sent; redelivery at sign-on
reads the frames back from the database. A million queued messages cost the switch a few
kilobytes (tools/bench_mailbox.py), not the ~120 bytes each that one dict entry per message did.

A message whose sends fail ``DEAD_AFTER`` times in a row (a link that cannot carry it) becomes a
*dead letter*: it leaves the queue, so it blocks nothing, is never counted as waiting and is not
redelivered, but stays on disk until an instructor resends or drops it (``lems mail``).
"""

from __future__ import annotations

import bisect
import json
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

from lems.store import Statement

PUT = "INSERT INTO mailbox (terminal, osn, seq, body) VALUES (?,?,?,?)"
TAKE_UPTO = "DELETE FROM mailbox WHERE terminal = ? AND osn <= ? AND dead = 0"
KILL = "UPDATE mailbox SET dead = 1 WHERE terminal = ? AND osn = ?"
READ = "SELECT osn, body FROM mailbox WHERE terminal = ? AND dead = 0 ORDER BY osn"
READ_AFTER = (
    "SELECT osn, body FROM mailbox WHERE terminal = ? AND dead = 0 AND osn > ? ORDER BY osn LIMIT ?"
)

DEAD_AFTER = 3
"""Failed sends in a row after which a message is dead-lettered."""

OSN_MARK = "osn_mark"
"""``meta`` key: each terminal's last OSN as of a journal seq, ``{"seq": S, "osn": {...}}``,
written when the switch stops cleanly. At start the mailboxes read it and look at the journal
rows after ``S`` only: the last OSN of every terminal from the whole journal was a scan of every
row (4 s at 1 M rows on this VM, linear in the journal's size). Without a mark (a first start, a
database from an older release) the whole journal is read, as before; after a crash the mark of
the last clean stop still bounds the scan. OSNs only grow, so the mark is a lower bound that
rows after it can only raise."""


def last_osns(conn: sqlite3.Connection) -> dict[str, int]:
    """Each terminal's last OSN in the journal: the ``OSN_MARK``, raised by the rows after it."""
    since, osns = 0, {}
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (OSN_MARK,)).fetchone()
    if row is not None:
        try:
            mark = json.loads(row[0])
            since = int(mark["seq"])
            osns = {str(t): int(n) for t, n in mark["osn"].items()}
        except (ValueError, KeyError, TypeError, AttributeError):
            since, osns = 0, {}  # unreadable: read the whole journal
    for terminal, osn in conn.execute(
        "SELECT terminal, MAX(osn) FROM journal WHERE seq > ? AND direction = 'out' "
        "GROUP BY terminal",
        (since,),
    ):
        if osn > osns.get(terminal, 0):
            osns[terminal] = osn
    return osns


def osn_mark(seq: int, osns: dict[str, int]) -> Statement:
    """The statement that writes the ``OSN_MARK`` for journal ``seq`` (every row up to it
    committed before it, in the same writer)."""
    return (
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
        (OSN_MARK, json.dumps({"seq": seq, "osn": osns}, separators=(",", ":"))),
    )


class Queue:
    """One terminal's waiting OSNs, in order, as sorted disjoint runs ``[first, last]``, plus the
    frames not durable yet (``frames``: OSN -> frame, in flight to the writer only)."""

    __slots__ = ("count", "frames", "runs")

    def __init__(self) -> None:
        self.runs: list[list[int]] = []
        self.frames: dict[int, str] = {}
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def __bool__(self) -> bool:
        return self.count > 0

    def __contains__(self, osn: object) -> bool:
        if not isinstance(osn, int):
            return False
        i = bisect.bisect_right(self.runs, [osn, float("inf")]) - 1
        return i >= 0 and self.runs[i][0] <= osn <= self.runs[i][1]

    def __iter__(self) -> Iterator[int]:
        for first, last in self.runs:
            yield from range(first, last + 1)

    def add(self, osn: int) -> None:
        """Put ``osn`` in (at the end, as a new message; or back in its place: a resent dead
        letter)."""
        runs = self.runs
        if runs and runs[-1][1] == osn - 1:  # the common case: the next OSN
            runs[-1][1] = osn
        elif osn in self:
            return
        else:
            i = bisect.bisect_left(runs, [osn, osn])
            runs.insert(i, [osn, osn])
            if i + 1 < len(runs) and runs[i + 1][0] == osn + 1:  # join the run after
                runs[i][1] = runs[i + 1][1]
                del runs[i + 1]
            if i > 0 and runs[i - 1][1] == osn - 1:  # and the run before
                runs[i - 1][1] = runs[i][1]
                del runs[i]
        self.count += 1

    def remove(self, osn: int) -> None:
        """Take one OSN out (a dead letter)."""
        runs = self.runs
        i = bisect.bisect_right(runs, [osn, float("inf")]) - 1
        if i < 0 or not runs[i][0] <= osn <= runs[i][1]:
            return
        first, last = runs[i]
        pieces = [r for r in ([first, osn - 1], [osn + 1, last]) if r[0] <= r[1]]
        runs[i : i + 1] = pieces
        self.frames.pop(osn, None)
        self.count -= 1

    def upto(self, osn: int) -> int:
        """How many waiting OSNs are ``<= osn`` (O(runs))."""
        n = 0
        for first, last in self.runs:
            if first > osn:
                break
            n += min(last, osn) - first + 1
        return n

    def take_upto(self, osn: int) -> tuple[int, int]:
        """Take the OSNs ``<= osn`` from the head, stopping before the first not durable yet:
        (how many were taken, the last taken; 0 if none)."""
        if self.frames:
            osn = min(osn, min(self.frames) - 1)
        taken = last = 0
        runs = self.runs
        while runs and runs[0][0] <= osn:
            first, end = runs[0]
            if end <= osn:
                del runs[0]
            else:
                runs[0][0] = osn + 1
                end = osn
            taken += end - first + 1
            last = end
        self.count -= taken
        return taken, last


# ---------------------------------------------------------------- the instructor's (lems mail)


def summary(conn: sqlite3.Connection) -> list[tuple[str, int, int, int]]:
    """(terminal, waiting, dead letters, oldest OSN) of every terminal with a mailbox row."""
    return conn.execute(
        "SELECT terminal, SUM(dead = 0), SUM(dead = 1), MIN(osn) FROM mailbox "
        "GROUP BY terminal ORDER BY terminal"
    ).fetchall()


def dead_letters(
    conn: sqlite3.Connection, terminal: str | None = None
) -> list[tuple[str, int, str | None, str, str]]:
    """(terminal, OSN, time queued, why it died, frame) of each dead letter (of ``terminal``
    only when given), by terminal and OSN."""
    where, params = ("AND m.terminal = ?", (terminal,)) if terminal else ("", ())
    return conn.execute(
        "SELECT m.terminal, m.osn, j.time, COALESCE(d.reason, ''), m.body FROM mailbox m "
        "LEFT JOIN journal j ON j.seq = m.seq "
        "LEFT JOIN journal d ON d.seq = (SELECT MAX(seq) FROM journal WHERE direction = "
        "'sys' AND disposition = 'dead-letter' AND terminal = m.terminal AND osn = m.osn) "
        f"WHERE m.dead = 1 {where} ORDER BY m.terminal, m.osn",
        params,
    ).fetchall()


def dead_osns(conn: sqlite3.Connection, terminal: str) -> list[int]:
    """The OSNs of ``terminal``'s dead letters."""
    return [
        osn
        for (osn,) in conn.execute(
            "SELECT osn FROM mailbox WHERE terminal = ? AND dead = 1", (terminal,)
        )
    ]


def revive(conn: sqlite3.Connection, terminal: str, osn: int, resend: bool) -> bool:
    """Put a dead letter back in the queue (``resend``) or delete it; False if ``osn`` is not
    a dead letter of ``terminal``. The caller holds the transaction."""
    sql = (
        "UPDATE mailbox SET dead = 0" if resend else "DELETE FROM mailbox"
    ) + " WHERE terminal = ? AND osn = ? AND dead = 1"
    return bool(conn.execute(sql, (terminal, osn)).rowcount)


class Mailboxes:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._osn: dict[str, int] = last_osns(conn)
        self._pending: dict[str, Queue] = defaultdict(Queue)
        """Terminal -> its waiting OSNs (and frames until committed)."""
        self._dead: dict[str, set[int]] = defaultdict(set)
        self._failures: dict[tuple[str, int], int] = {}
        for terminal, osn, dead in conn.execute(
            "SELECT terminal, osn, dead FROM mailbox ORDER BY terminal, osn"
        ):
            if dead:
                self._dead[terminal].add(osn)
            else:
                self._pending[terminal].add(osn)

    def mark(self, seq: int) -> Statement:
        """The ``OSN_MARK`` of now, for journal ``seq`` (the switch's last at a clean stop)."""
        return osn_mark(seq, {t: n for t, n in self._osn.items() if n > 0})

    def next_osn(self, terminal: str) -> int:
        osn = self._osn.get(terminal, 0) + 1
        self._osn[terminal] = osn
        return osn

    def last_osn(self, terminal: str) -> int:
        """The last OSN handed out for ``terminal`` (0 if none)."""
        return self._osn.get(terminal, 0)

    def put(self, terminal: str, osn: int, seq: int, frame: str) -> Statement:
        """Hold ``frame`` (uncommitted until ``committed``) and return the row to write."""
        box = self._pending[terminal]
        box.add(osn)
        box.frames[osn] = frame
        return (PUT, (terminal, osn, seq, frame))

    def committed(self, terminal: str, osn: int) -> str | None:
        """Mark durable; the frame to send, or None if it was acknowledged meanwhile. From now
        on the frame is read from the database when it must be sent again."""
        box = self._pending.get(terminal)
        if not box:
            return None
        return box.frames.pop(osn, None)

    def pending(self, terminal: str, after: int = 0, limit: int = -1) -> list[tuple[int, str]]:
        """Committed, unacknowledged, live frames in OSN order (read from the database): those
        above OSN ``after``, at most ``limit`` of them (-1: all)."""
        box = self._pending.get(terminal)
        if not box:
            return []
        rows = (
            self._conn.execute(READ, (terminal,))
            if not after and limit < 0
            else self._conn.execute(READ_AFTER, (terminal, after, limit))
        )
        return [(osn, body) for osn, body in rows if osn in box and osn not in box.frames]

    def page(self, terminal: str, after: int, size: int) -> tuple[list[tuple[int, str]], int]:
        """One page of ``pending``: at most ``size`` frames above OSN ``after``, and where the
        next page starts (the last OSN this page read, or 0 when nothing follows it)."""
        box = self._pending.get(terminal)
        if not box:
            return [], 0
        rows = self._conn.execute(READ_AFTER, (terminal, after, size)).fetchall()
        frames = [(osn, body) for osn, body in rows if osn in box and osn not in box.frames]
        return frames, (rows[-1][0] if len(rows) == size else 0)

    def unacked_upto(self, terminal: str, osn: int) -> int:
        """How many messages up to ``osn`` wait for an acknowledgement (O(dead letters))."""
        box = self._pending.get(terminal)
        return box.upto(osn) if box else 0

    def count(self, terminal: str) -> int:
        """Messages waiting that will really be delivered (dead letters not counted)."""
        return len(self._pending.get(terminal, ()))

    def dead(self, terminal: str) -> int:
        return len(self._dead.get(terminal, ()))

    def ack(self, terminal: str, osn: int) -> tuple[Statement | None, int]:
        """Acknowledge every committed message up to ``osn``: the row delete to write (None if
        nothing was waiting) and how many messages it took."""
        box = self._pending.get(terminal)
        if not box:
            return None, 0
        taken, last = box.take_upto(osn)  # not past a message not durable yet
        if taken and self._failures:
            for key in [k for k in self._failures if k[0] == terminal and k[1] <= last]:
                del self._failures[key]
        if not box:
            del self._pending[terminal]
        return ((TAKE_UPTO, (terminal, last)) if taken else None), taken

    def failed(self, terminal: str, osn: int) -> Statement | None:
        """A send of ``osn`` failed: the row update that dead-letters it once it has failed
        ``DEAD_AFTER`` times, else None."""
        key = (terminal, osn)
        n = self._failures.get(key, 0) + 1
        if n < DEAD_AFTER:
            self._failures[key] = n
            return None
        self._failures.pop(key, None)
        box = self._pending.get(terminal)
        if box is None or osn not in box:
            return None
        box.remove(osn)
        if not box:
            del self._pending[terminal]
        self._dead[terminal].add(osn)
        return (KILL, (terminal, osn))

    def reload_dead(self) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
        """Take in what an instructor did to dead letters (``lems mail resend|drop`` write the
        database): the (terminal, OSN) resent (back in the queue, in OSN order) and dropped."""
        resent, dropped = [], []
        for terminal, osns in list(self._dead.items()):
            marks = ",".join("?" * len(osns))
            rows = dict(
                self._conn.execute(
                    f"SELECT osn, dead FROM mailbox WHERE terminal = ? AND osn IN ({marks})",
                    (terminal, *osns),
                )
            )
            for osn in sorted(osns):
                if osn not in rows:
                    dropped.append((terminal, osn))
                    osns.discard(osn)
                elif not rows[osn]:
                    resent.append((terminal, osn))
                    osns.discard(osn)
                    self._pending[terminal].add(osn)  # back in its place, in OSN order
            if not osns:
                del self._dead[terminal]
        return resent, dropped


class Outflow:
    """One session's delivery of its terminal's mailbox, like a session protocol's sender:
    at most ``window`` unacknowledged messages on the link (0: no limit), and, when no
    acknowledgement has moved for ``resend_s`` seconds (0: never), the unacknowledged messages
    sent in this session are sent again (go-back-N), at most ``resend_limit`` times in a row;
    after that they wait for the next sign-on (a terminal that never acknowledges, such as a
    person on netcat, is not flooded).

    ``write(osn, frame)`` puts one frame on the link. The timer runs on ``clock``
    (``IReactorTime``: the reactor, or ``task.Clock`` in tests); it is armed once per period,
    not per message, so the hot path pays nothing for it.

    A backlog (what waited for a sign-on, or what is sent again) is read and written ``PAGE``
    frames a reactor turn, the next page in the next turn, and only while the peer reads
    (``ready()``; ``resume()`` when it reads again): a terminal coming back to 100,000 queued
    messages must not hold every other terminal for the whole read, nor be handed them all at
    once to buffer in memory (its link would be dropped for not reading, and it would sign on
    again to the same backlog). While a backlog drains, new messages wait their turn in it (OSN
    order); they are on disk.
    """

    PAGE = 64
    """Frames of a backlog read and written in one reactor turn: ~0.5 ms (a frame written costs
    a fraction of one handled; ``hardware.fair`` handles 16 frames of a link a turn)."""

    __slots__ = (
        "_armed",
        "_clock",
        "_held",
        "_more",
        "_parked",
        "_progress",
        "_resend_upto",
        "_tries",
        "boxes",
        "ready",
        "resend_limit",
        "resend_s",
        "sent_upto",
        "terminal",
        "window",
        "write",
    )

    def __init__(
        self,
        boxes: Mailboxes,
        terminal: str,
        write: Callable[[int, str], None],
        clock: Any,
        *,
        window: int = 0,
        resend_s: float = 0.0,
        resend_limit: int = 3,
        ready: Callable[[], bool] = lambda: True,
    ) -> None:
        self.boxes = boxes
        self.terminal = terminal
        self.write = write
        self.ready = ready
        """Whether the link takes more now (False while its peer does not read)."""
        self._clock = clock
        self.window = window
        self.resend_s = resend_s
        self.resend_limit = resend_limit
        self.sent_upto = 0
        """The highest OSN written on this link."""
        self._armed: Any = None
        self._more: Any = None
        """The next page of a backlog, due in the next reactor turn (None: none is due)."""
        self._parked: tuple[Callable[..., None], tuple[Any, ...]] | None = None
        """The next page of a backlog, waiting for the peer to read again (``resume``)."""
        self._held = False
        """A message was offered while a backlog drained (it is read back in its turn)."""
        self._resend_upto = 0
        """While a resend drains: the highest OSN it sends again (0: not resending)."""
        self._progress = False
        self._tries = 0

    @property
    def draining(self) -> bool:
        """A backlog is being sent, a page a turn (due next turn, or waiting for the peer)."""
        return self._more is not None or self._parked is not None

    def start(self) -> None:
        """The terminal is on line here: send what waits (the first ``window`` of it)."""
        self._fill()

    def stop(self) -> None:
        if self._armed is not None and self._armed.active():
            self._armed.cancel()
        self._armed = None
        if self._more is not None and self._more.active():
            self._more.cancel()
        self._more = self._parked = None

    def resume(self) -> None:
        """The peer reads again: a backlog waiting for it goes on, in the next turn."""
        if self._parked is not None and self._more is None:
            step, args = self._parked
            self._parked = None
            self._more = self._clock.callLater(0, self._step, step, args)

    def offer(self, osn: int, frame: str) -> None:
        """A message just became durable: send it now unless the window is full or a backlog
        is still draining (it is then read back from the database in its turn)."""
        if self.draining:
            self._held = True
            return
        if self.window and self.boxes.unacked_upto(self.terminal, self.sent_upto) >= self.window:
            return
        if osn > self.sent_upto:
            self.sent_upto = osn
        self.write(osn, frame)
        self._arm()

    def acked(self) -> None:
        """An acknowledgement moved: the timer starts over and the window has room again."""
        self._progress = True
        self._tries = 0
        if self.window:
            self._fill()
        elif self._armed is None:
            self._arm()

    def _later(self, step: Callable[..., None], *args: Any) -> None:
        """The next page: in the next turn if the peer reads, else when it reads again."""
        if self.ready():
            self._more = self._clock.callLater(0, self._step, step, args)
        else:
            self._parked = (step, args)

    def _step(self, step: Callable[..., None], args: tuple[Any, ...]) -> None:
        self._more = None
        step(*args)

    def _fill(self) -> None:
        if self.draining:  # a page is on its way; it reads from where we are
            return
        self._held = False
        size = self.PAGE
        if self.window:
            size = min(size, self.window - self.boxes.unacked_upto(self.terminal, self.sent_upto))
            if size <= 0:
                return
        frames, following = self.boxes.page(self.terminal, self.sent_upto, size)
        for osn, frame in frames:
            self.sent_upto = max(self.sent_upto, osn)
            self.write(osn, frame)
        if following:
            self.sent_upto = max(self.sent_upto, following)
            if size == self.PAGE:  # else the window is full now: acknowledgements call again
                self._later(self._fill)
        self._arm()

    def _arm(self) -> None:
        if self.resend_s and self._armed is None and self.boxes.count(self.terminal):
            self._armed = self._clock.callLater(self.resend_s, self._timeout)

    def _timeout(self) -> None:
        self._armed = None
        if self._progress:  # acknowledgements came: wait a full period from now
            self._progress = False
            self._arm()
            return
        if not self.boxes.count(self.terminal) or self._tries >= self.resend_limit:
            return
        if self.draining:  # a backlog is still being sent: nothing is stalled yet
            self._arm()
            return
        self._tries += 1
        self._resend_upto = self.sent_upto
        self._resend(0)

    def _resend(self, after: int) -> None:
        """Send again, a page a turn, what was sent up to ``_resend_upto`` (go-back-N); at its
        end, what was offered meanwhile."""
        frames, following = self.boxes.page(self.terminal, after, self.PAGE)
        for osn, frame in frames:
            if osn > self._resend_upto:
                following = 0
                break
            self.write(osn, frame)
        if following and following < self._resend_upto:
            self._later(self._resend, following)
            self._arm()
        else:
            self._resend_upto = 0
            if self._held:
                self._fill()
            else:
                self._arm()
