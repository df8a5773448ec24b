"""The daemon's records: every VWN and every job in flight, in SQLite, surviving crashes.

One ``Store`` owns the database connection. Writes are single transactions that commit
before the caller goes on to act (intent first): if the daemon is killed between the
record and the action, the restarted daemon reads the intent and finishes or undoes it.

It also keeps, in memory, the records the engine reads at every placement and round: every
VWN not destroyed and every job in flight. Read from the database when the store opens, then
written through: each write updates them once its transaction has committed, so they are
always what the database holds (one daemon owns its state directory; nothing else writes
it). A placement then reads no row and decodes no record (a profile of 1 000 baits at once
found half the event loop's time decoding every VWN record of the host for each placement).
Destroyed VWNs and finished jobs, which only history needs, are read from the database.

WAL with ``synchronous=NORMAL``: a committed write survives the process being killed
(the case that matters, since VWNs keep running); a power cut may lose the last
commits, but then the host's VWNs are gone too and reconciliation sees that.
"""

import json
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ..errors import IllegalTransition, WnodError
from ..model import Vwn, VwnState
from ..model.events import JobStep
from ..model.flight import FINAL_STEPS, JobFlight

SCHEMA_VERSION = 5
"""1: the first. 2: jobs.giving_back_as, vwns.version, vwns.vcpus and vwns.memory. 3: vwns.booted_at,
vwns.last_user, vwns.last_group, jobs.stuck_since and jobs.stuck_why. 4: jobs.stray_on. 5: jobs.cpus
and jobs.memory."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS vwns (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    vm_type TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    hostname TEXT,
    job_id TEXT,
    reuse_count INTEGER NOT NULL DEFAULT 0,
    image_version TEXT NOT NULL DEFAULT '',
    slot INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 0,
    vcpus INTEGER NOT NULL DEFAULT 0,
    memory INTEGER NOT NULL DEFAULT 0,
    booted_at REAL NOT NULL DEFAULT 0,
    last_user TEXT NOT NULL DEFAULT '',
    last_group TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS vwns_by_state ON vwns (state);
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    step TEXT NOT NULL,
    bait_host TEXT NOT NULL,
    updated_at REAL NOT NULL,
    user TEXT NOT NULL DEFAULT '',
    owner_group TEXT NOT NULL DEFAULT '',
    vm_type TEXT NOT NULL DEFAULT '',
    vwn_id TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    reused INTEGER,
    detail TEXT NOT NULL DEFAULT '',
    times TEXT NOT NULL DEFAULT '[]',
    giving_back_as TEXT NOT NULL DEFAULT '',
    stuck_since REAL NOT NULL DEFAULT 0,
    stuck_why TEXT NOT NULL DEFAULT '',
    stray_on TEXT NOT NULL DEFAULT '',
    cpus INTEGER NOT NULL DEFAULT 0,
    memory INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_by_step ON jobs (step);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_ADDED: dict[int, tuple[tuple[str, str, str], ...]] = {
    2: (
        ("jobs", "giving_back_as", "TEXT NOT NULL DEFAULT ''"),
        ("vwns", "version", "INTEGER NOT NULL DEFAULT 0"),
        ("vwns", "vcpus", "INTEGER NOT NULL DEFAULT 0"),
        ("vwns", "memory", "INTEGER NOT NULL DEFAULT 0"),
    ),
    3: (
        ("vwns", "booted_at", "REAL NOT NULL DEFAULT 0"),
        ("vwns", "last_user", "TEXT NOT NULL DEFAULT ''"),
        ("vwns", "last_group", "TEXT NOT NULL DEFAULT ''"),
        ("jobs", "owner_group", "TEXT NOT NULL DEFAULT ''"),
        ("jobs", "stuck_since", "REAL NOT NULL DEFAULT 0"),
        ("jobs", "stuck_why", "TEXT NOT NULL DEFAULT ''"),
    ),
    4: (("jobs", "stray_on", "TEXT NOT NULL DEFAULT ''"),),
    5: (("jobs", "cpus", "INTEGER NOT NULL DEFAULT 0"), ("jobs", "memory", "INTEGER NOT NULL DEFAULT 0")),
}
"""The columns each schema version added to the one before: (table, column, declaration).
Their defaults read as "not known" for the rows an older wnod wrote."""

_VWN_COLUMNS = (
    "id", "host", "vm_type", "state", "created_at", "updated_at", "hostname", "job_id", "reuse_count",
    "image_version", "slot", "version", "vcpus", "memory", "booted_at", "last_user", "last_group",
)
_JOB_COLUMNS = (
    "job_id", "step", "bait_host", "updated_at", "user", "owner_group", "vm_type", "vwn_id", "attempts", "reused",
    "detail",
    "times", "giving_back_as", "stuck_since", "stuck_why", "stray_on", "cpus", "memory",
)


class StoreError(WnodError):
    """The state database cannot be opened or is not wnod's."""


class Store:
    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        # Before SQLite touches anything: opening a truncated file would discard the write-ahead
        # log beside it, and with it the last records that could still be saved.
        truncated = _truncated(path)
        if truncated:
            raise StoreError(f"{path}: cannot open the state database: {truncated}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
            # isolation_level=None: transactions are opened explicitly, so none is left open by accident.
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{path}: written by a newer wnod (schema {version}, this one knows {SCHEMA_VERSION})"
                )
            with self._transaction():
                if version == 0:
                    # Statement by statement: executescript would commit the open transaction first.
                    for statement in filter(str.strip, _SCHEMA.split(";")):
                        self._db.execute(statement)
                else:
                    self._migrate(version)
                self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open the state database: {exc}") from exc
        self._alive: dict[str, Vwn] = {v.id: v for v in self._select_vwns(alive=True)}
        """VWNs not destroyed, by id: what the database holds, written through."""
        self._flights: dict[str, JobFlight] = {f.job_id: f for f in self._select_jobs(in_flight=True)}
        """Jobs in flight (not at a final step), by id: what the database holds, written through."""

    def _migrate(self, version: int) -> None:
        """Bring a database written by an older wnod up to this schema, in the open transaction."""
        for newer in range(version + 1, SCHEMA_VERSION + 1):
            for table, column, declaration in _ADDED.get(newer, ()):
                have = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
                if column not in have:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- VWNs ------------------------------------------------------------------------------------

    def write(
        self,
        *,
        new: Sequence[Vwn] = (),
        moves: Sequence[tuple[Vwn, Vwn]] = (),
        jobs: Sequence[JobFlight] = (),
    ) -> None:
        """Record `new` VWNs, `moves` of recorded ones (before, after) and `jobs`, all in one
        transaction: a change that spans several records is never half recorded, whenever the
        daemon is killed. Every write of the records comes through here.

        Raises IllegalTransition when a new VWN's id is taken, or a moved VWN is no longer
        `before` (same state, same version) in the records: two writers acting on one VWN.
        """
        with self._lock:
            self._write_rows(new, moves, jobs)
            # Committed: the view follows (a write that failed changed neither).
            self._follow(new, moves, jobs)

    def _write_rows(self, new: Sequence[Vwn], moves: Sequence[tuple[Vwn, Vwn]], jobs: Sequence[JobFlight]) -> None:
        with self._transaction() as db:
            for vwn in new:
                try:
                    db.execute(
                        f"INSERT INTO vwns ({', '.join(_VWN_COLUMNS)}) VALUES ({', '.join('?' * len(_VWN_COLUMNS))})",
                        _vwn_row(vwn),
                    )
                except sqlite3.IntegrityError:
                    raise IllegalTransition(f"VWN {vwn.id} is already recorded") from None
            for before, after in moves:
                assert before.id == after.id
                cursor = db.execute(
                    f"UPDATE vwns SET {', '.join(f'{c} = ?' for c in _VWN_COLUMNS[1:])}"
                    " WHERE id = ? AND state = ? AND version = ?",
                    (*_vwn_row(after)[1:], after.id, before.state.value, before.version),
                )
                if cursor.rowcount != 1:
                    raise IllegalTransition(
                        f"VWN {before.id} is no longer {before.state} (version {before.version}) in the records:"
                        " something else changed it meanwhile"
                    )
            for flight in jobs:
                db.execute(
                    f"INSERT OR REPLACE INTO jobs ({', '.join(_JOB_COLUMNS)})"
                    f" VALUES ({', '.join('?' * len(_JOB_COLUMNS))})",
                    _job_row(flight),
                )

    def _follow(self, new: Sequence[Vwn], moves: Sequence[tuple[Vwn, Vwn]], jobs: Sequence[JobFlight]) -> None:
        for vwn in (*new, *(after for _before, after in moves)):
            if vwn.state is VwnState.DESTROYED:
                self._alive.pop(vwn.id, None)
            else:
                self._alive[vwn.id] = vwn
        for flight in jobs:
            if flight.is_over:
                self._flights.pop(flight.job_id, None)
            else:
                self._flights[flight.job_id] = flight

    def add_vwn(self, vwn: Vwn) -> None:
        """Record a new VWN; its id must be new."""
        self.write(new=[vwn])

    def adopt(self, vwn: Vwn, flight: JobFlight | None) -> None:
        """Record a VWN found running without a record, and the job found running in it, at once."""
        self.write(new=[vwn], jobs=[flight] if flight else [])

    def has_history(self) -> bool:
        """Whether any VWN was ever recorded here (destroyed ones included): an empty store next to
        running VWNs of this host is not this host's records (deleted, truncated, another directory)."""
        with self._lock:
            return self._db.execute("SELECT 1 FROM vwns LIMIT 1").fetchone() is not None

    def update_vwn(self, before: Vwn, after: Vwn) -> None:
        """Record `after` in place of `before`, only if the record is still `before` (same state,
        same version): any change made meanwhile, even one that came back to the same state
        (READY for one job, then READY for another), is caught.

        Raises IllegalTransition: two writers acting on the same VWN.
        """
        self.write(moves=[(before, after)])

    def vwn(self, vwn_id: str) -> Vwn | None:
        with self._lock:
            if vwn_id in self._alive:
                return self._alive[vwn_id]
            row = self._db.execute(f"SELECT {', '.join(_VWN_COLUMNS)} FROM vwns WHERE id = ?", (vwn_id,)).fetchone()
        return _vwn_of(row) if row else None

    def vwns(self, *, alive: bool = True) -> list[Vwn]:
        """VWNs in creation order; only those not destroyed unless `alive` is False."""
        if alive:
            with self._lock:
                return sorted(self._alive.values(), key=_created)
        return self._select_vwns(alive=False)

    def _select_vwns(self, *, alive: bool) -> list[Vwn]:
        query = f"SELECT {', '.join(_VWN_COLUMNS)} FROM vwns"
        if alive:
            query += f" WHERE state != '{VwnState.DESTROYED.value}'"
        with self._lock:
            rows = self._db.execute(query + " ORDER BY created_at, id").fetchall()
        return [_vwn_of(r) for r in rows]

    # -- jobs ------------------------------------------------------------------------------------

    def save_job(self, flight: JobFlight) -> None:
        self.write(jobs=[flight])

    def job(self, job_id: str) -> JobFlight | None:
        with self._lock:
            if job_id in self._flights:
                return self._flights[job_id]
            row = self._db.execute(f"SELECT {', '.join(_JOB_COLUMNS)} FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return _job_of(row) if row else None

    def jobs(self, *, in_flight: bool = True) -> list[JobFlight]:
        if in_flight:
            with self._lock:
                return sorted(self._flights.values(), key=_updated)
        return self._select_jobs(in_flight=False)

    def _select_jobs(self, *, in_flight: bool) -> list[JobFlight]:
        query = f"SELECT {', '.join(_JOB_COLUMNS)} FROM jobs"
        params: tuple[str, ...] = ()
        if in_flight:
            query += f" WHERE step NOT IN ({', '.join('?' * len(FINAL_STEPS))})"
            params = tuple(s.value for s in FINAL_STEPS)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY updated_at, job_id", params).fetchall()
        return [_job_of(r) for r in rows]

    def vwns_of_jobs_at(self, step: JobStep) -> set[str]:
        """The ids of the VWNs named by the jobs in flight at `step` (asked at every placement)."""
        with self._lock:
            return {f.vwn_id for f in self._flights.values() if f.step is step and f.vwn_id}

    def stray_names(self) -> set[str]:
        """The host names jobs being handed back run on without wnod (``JobFlight.stray_on``),
        asked at every placement."""
        with self._lock:
            return {f.stray_on for f in self._flights.values() if f.step is JobStep.GIVING_BACK and f.stray_on}

    def jobs_of_destroyed_vwns(self, steps: Iterable[JobStep]) -> list[tuple[JobFlight, Vwn]]:
        """The jobs at one of `steps` whose VWN is recorded destroyed, each with that VWN.

        The placement asks this for every job it places: the database is asked only when a job
        in flight names a VWN that is not alive (rare: a VWN lost under its job), in one query.
        """
        steps = tuple(steps)
        with self._lock:
            if not any(f.step in steps and f.vwn_id and f.vwn_id not in self._alive for f in self._flights.values()):
                return []
        steps = tuple(s.value for s in steps)
        query = (
            f"SELECT {', '.join(f'j.{c}' for c in _JOB_COLUMNS)}, {', '.join(f'v.{c}' for c in _VWN_COLUMNS)}"
            " FROM jobs AS j JOIN vwns AS v ON v.id = j.vwn_id"
            f" WHERE j.step IN ({', '.join('?' * len(steps))}) AND j.vwn_id != '' AND v.state = ?"
            " ORDER BY j.updated_at, j.job_id"
        )
        with self._lock:
            rows = self._db.execute(query, (*steps, VwnState.DESTROYED.value)).fetchall()
        width = len(_JOB_COLUMNS)
        return [(_job_of(r[:width]), _vwn_of(r[width:])) for r in rows]

    def forget_jobs_before(self, cutoff: float) -> int:
        """Drop finished jobs last changed before `cutoff`; the accounting log keeps their history."""
        with self._lock, self._transaction() as db:
            cursor = db.execute(
                f"DELETE FROM jobs WHERE updated_at < ? AND step IN ({', '.join('?' * len(FINAL_STEPS))})",
                (cutoff, *(s.value for s in FINAL_STEPS)),
            )
            return cursor.rowcount

    # -- settings --------------------------------------------------------------------------------

    def setting(self, key: str, default: str = "") -> str:
        with self._lock:
            row = self._db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_setting(self, key: str, value: str) -> None:
        with self._lock, self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", (key, value))


def _created(vwn: Vwn) -> tuple[float, str]:
    return vwn.created_at, vwn.id


def _updated(flight: JobFlight) -> tuple[float, str]:
    return flight.updated_at, flight.job_id


def _truncated(path: Path) -> str:
    """Why `path` must not be opened, if it was truncated under its write-ahead log ("" if not)."""
    wal = path.with_name(path.name + "-wal")
    try:
        truncated = path.stat().st_size == 0 and wal.stat().st_size > 0
    except OSError:
        return ""
    if not truncated:
        return ""
    return (f"{path.name} is empty but its write-ahead log {wal.name} is not: the file was truncated. Both are"
            f" left as they are. Restore {path.name} from a backup; or move {path.name}* aside and start with"
            " --adopt, which keeps the VWNs that run and follows their jobs")


def _vwn_row(vwn: Vwn) -> tuple[object, ...]:
    return (
        vwn.id, vwn.host, vwn.vm_type, vwn.state.value, vwn.created_at, vwn.updated_at, vwn.hostname, vwn.job_id,
        vwn.reuse_count, vwn.image_version, vwn.slot, vwn.version, vwn.vcpus, vwn.memory, vwn.booted_at,
        vwn.last_user, vwn.last_group,
    )


def _vwn_of(row: tuple[object, ...]) -> Vwn:
    values = dict(zip(_VWN_COLUMNS, row, strict=True))
    values["state"] = VwnState(values["state"])
    return Vwn(**values)  # type: ignore[arg-type]


def _job_row(flight: JobFlight) -> tuple[object, ...]:
    return (
        flight.job_id, flight.step.value, flight.bait_host, flight.updated_at, flight.user, flight.group, flight.vm_type,
        flight.vwn_id, flight.attempts, None if flight.reused is None else int(flight.reused), flight.detail,
        json.dumps([list(t) for t in flight.times]),
        flight.giving_back_as.value if flight.giving_back_as else "", flight.stuck_since, flight.stuck_why,
        flight.stray_on, flight.cpus, flight.memory,
    )


def _job_of(row: tuple[object, ...]) -> JobFlight:
    values = dict(zip(_JOB_COLUMNS, row, strict=True))
    values["step"] = JobStep(values["step"])
    values["reused"] = None if values["reused"] is None else bool(values["reused"])
    values["times"] = tuple((str(s), float(t)) for s, t in json.loads(str(values["times"])))
    values["giving_back_as"] = JobStep(values["giving_back_as"]) if values["giving_back_as"] else None
    values["group"] = values.pop("owner_group")
    return JobFlight(**values)  # type: ignore[arg-type]


def image_versions_in_use(path: Path) -> Counter[tuple[str, str]]:
    """How many VWNs not yet destroyed there are per (VM type, image version), read from the daemon's
    store at `path` without opening it for writing (the daemon may be running): what `wnod image`
    must not delete. An absent store is a host with no VWN."""
    if not path.exists():
        return Counter()
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            rows = db.execute("SELECT vm_type, image_version FROM vwns WHERE state != ?",
                              (VwnState.DESTROYED.value,)).fetchall()
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read which image versions VWNs use from {path}: {exc}") from None
    return Counter((str(t), str(v)) for t, v in rows)
