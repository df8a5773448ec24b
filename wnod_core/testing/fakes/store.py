"""Where a fake keeps its state: in memory, or in one SQLite file that processes share.

Test tools, not product features. The fakes' rules (``FakeBatchSystem``,
``FakeHypervisor``) are written once against the small ``Store`` interface below;
``MemoryStore`` keeps their state in dicts under a lock, for tests in one process,
and ``SqliteStore`` keeps it in a SQLite file, so that a daemon process and the test
driving it see the same batch system and hypervisor, and the state outlives a kill -9
of either.

A store offers named tables (``MutableMapping[str, V]``), counters, and transactions:
every rule of a fake runs inside ``transaction(write=...)``, so it sees and changes
the state atomically — under an ``RLock`` in memory, inside ``BEGIN IMMEDIATE`` (or
``BEGIN`` for a read) in SQLite. Transactions nest on one thread: the outermost one
commits.
"""

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import attrs
import cattrs

V = TypeVar("V")

BUSY_TIMEOUT = 60.0
"""Seconds a SQLite transaction waits for another process's to end before it fails."""


@attrs.frozen
class Codec(Generic[V]):
    """How a table's values are written to a shared store: ``dump`` to JSON-able, ``load`` back."""

    dump: Callable[[V], Any]
    load: Callable[[Any], V]


PLAIN: Codec[Any] = Codec(dump=lambda v: v, load=lambda v: v)
"""For values JSON holds as they are: strings, numbers."""

_CONVERTER = cattrs.Converter()
"""Plain cattrs, not the config's: sizes and durations stay exact numbers in the file."""


def attrs_codec(cls: type[V]) -> Codec[V]:
    """An attrs class's instances as JSON objects, read back equal."""
    return Codec(dump=_CONVERTER.unstructure, load=lambda data: _CONVERTER.structure(data, cls))


class Store(Protocol):
    """What a fake keeps its state in."""

    def transaction(self, write: bool = True) -> AbstractContextManager[None]:
        """Run a rule atomically; `write=False` promises it only reads. Nests on one thread."""
        ...

    def table(self, name: str, codec: Codec[V]) -> MutableMapping[str, V]:
        """The table `name` (keys are strings); every access joins the current transaction."""
        ...

    def next_number(self, counter: str, start: int) -> int:
        """The next value of `counter`, `start` first; never the same twice."""
        ...


class MemoryStore:
    """State in dicts under one re-entrant lock: one process, its threads."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._tables: dict[str, dict[str, Any]] = {}
        self._counters: dict[str, int] = {}

    def transaction(self, write: bool = True) -> AbstractContextManager[None]:
        return self._lock  # type: ignore[return-value]

    def table(self, name: str, codec: Codec[V]) -> MutableMapping[str, V]:
        return self._tables.setdefault(name, {})

    def next_number(self, counter: str, start: int) -> int:
        with self._lock:
            value = self._counters.get(counter, start)
            self._counters[counter] = value + 1
            return value


_SCHEMA = """
CREATE TABLE IF NOT EXISTS fake_state (
    tbl TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (tbl, key)
) WITHOUT ROWID;
"""


class SqliteStore:
    """State in one SQLite file (WAL, short transactions) that any number of processes share.

    Each thread has its own connection; a write transaction is ``BEGIN IMMEDIATE``, so
    a read-modify-write never interleaves with another process's. Commits survive the
    process being killed at any moment (WAL, ``synchronous=NORMAL``).
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        connection = self._connection()
        connection.execute("PRAGMA journal_mode=WAL")
        with self.transaction():
            connection.execute(_SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
            )
            connection.execute("PRAGMA synchronous=NORMAL")
            self._local.connection = connection
            self._local.depth = 0
            self._local.write = False
            with self._connections_lock:
                self._connections.append(connection)
        return connection

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[None]:
        connection = self._connection()
        local = self._local
        if local.depth:
            if write and not local.write:
                raise RuntimeError("a fake's rule writes inside a read-only transaction: a bug in the fake")
            local.depth += 1
            try:
                yield
            finally:
                local.depth -= 1
            return
        connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        local.depth, local.write = 1, write
        try:
            yield
        except BaseException:
            local.depth = 0
            connection.execute("ROLLBACK")
            raise
        local.depth = 0
        try:
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise

    def transaction(self, write: bool = True) -> AbstractContextManager[None]:
        return self._transaction(write)

    def table(self, name: str, codec: Codec[V]) -> MutableMapping[str, V]:
        return _SqliteTable(self, name, codec)

    def next_number(self, counter: str, start: int) -> int:
        numbers = self.table("counters", PLAIN)
        with self.transaction():
            value = int(numbers.get(counter, start))
            numbers[counter] = value + 1
            return value

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run one statement on this thread's connection (inside the current transaction, if any)."""
        return self._connection().execute(sql, params).fetchall()

    def close(self) -> None:
        """Close every thread's connection; the file stays. Using the store afterwards is an error."""
        with self._connections_lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()
        self._local = threading.local()


class _SqliteTable(MutableMapping[str, V]):
    """One named table of a ``SqliteStore``, its values JSON through the codec; keys sorted."""

    def __init__(self, store: SqliteStore, name: str, codec: Codec[V]) -> None:
        self._store = store
        self._name = name
        self._codec = codec

    def _read(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with self._store.transaction(write=False):
            return self._store.execute(sql, (self._name, *params))

    def _write(self, sql: str, *params: Any) -> None:
        with self._store.transaction():
            self._store.execute(sql, (self._name, *params))

    def __getitem__(self, key: str) -> V:
        rows = self._read("SELECT value FROM fake_state WHERE tbl = ? AND key = ?", key)
        if not rows:
            raise KeyError(key)
        return self._codec.load(json.loads(rows[0][0]))

    def __setitem__(self, key: str, value: V) -> None:
        text = json.dumps(self._codec.dump(value), sort_keys=True)
        self._write("INSERT OR REPLACE INTO fake_state (tbl, key, value) VALUES (?, ?, ?)", key, text)

    def __delitem__(self, key: str) -> None:
        with self._store.transaction():
            if key not in self:
                raise KeyError(key)
            self._write("DELETE FROM fake_state WHERE tbl = ? AND key = ?", key)

    def __contains__(self, key: object) -> bool:
        return bool(self._read("SELECT 1 FROM fake_state WHERE tbl = ? AND key = ?", key))

    def __iter__(self) -> Iterator[str]:
        return iter([k for (k,) in self._read("SELECT key FROM fake_state WHERE tbl = ? ORDER BY key")])

    def __len__(self) -> int:
        return int(self._read("SELECT count(*) FROM fake_state WHERE tbl = ?")[0][0])

    def items(self) -> list[tuple[str, V]]:  # type: ignore[override]
        rows = self._read("SELECT key, value FROM fake_state WHERE tbl = ? ORDER BY key")
        return [(k, self._codec.load(json.loads(v))) for k, v in rows]

    def values(self) -> list[V]:  # type: ignore[override]
        return [v for _, v in self.items()]
