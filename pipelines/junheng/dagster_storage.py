"""Dagster's SQLite run and event storage, keeping its database connections open.

Dagster's SQLite storages create a new SQLAlchemy engine, and so a new SQLite connection, for
every statement they run: a national year's run stores about 350 events, and setting up the
engine each time costs more than storing the event. These subclasses keep one engine per
database file for the life of the process, with SQLAlchemy's ordinary pool (a file database
is safe to use from several threads and processes in WAL mode, which Dagster sets when it
creates the file). The files, their tables and what is stored are Dagster's own, so
``dagster dev`` shows these runs like any other and the storage can be switched back at any
time.

``synchronous = NORMAL``: in WAL mode a commit no longer waits for the disk; a power cut could
lose the last events of a run's log, never corrupt it.

Configured in ``dagster.yaml`` by :func:`junheng.cli.configure_dagster_home`.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as db
from dagster import Field
from dagster._config import StringSource
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage

# run logs kept open at once: a run writes to its own and to the index; the web server reads a few
OPEN_SHARDS = 8


def _engine(conn_string: str) -> db.Engine:
    engine = db.create_engine(conn_string, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})

    @db.event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record):
        dbapi_connection.execute("pragma synchronous = normal")

    return engine


def _optional(config_type) -> Field:
    return Field(config_type, is_required=False)


def _home(*parts: str) -> str:
    """Dagster's own default place under DAGSTER_HOME (where its SQLite storage puts them)."""
    return os.path.join(os.environ["DAGSTER_HOME"], *parts)


class KeptOpenSqliteRunStorage(SqliteRunStorage):
    """Dagster's SQLite run storage (``history/runs.db``) with one engine for the process."""

    @classmethod
    def config_type(cls):
        return {"base_dir": _optional(StringSource)}

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls.from_local(inst_data=inst_data, base_dir=config_value.get("base_dir") or _home("history"))

    def __init__(self, conn_string: str, inst_data=None):
        self._engine = _engine(conn_string)  # (connects on first use)
        super().__init__(conn_string, inst_data)

    @contextmanager
    def connect(self) -> Iterator[db.Connection]:
        with self._engine.connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        self._engine.dispose()
        super().dispose()


class KeptOpenSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log (``history/runs/<run>.db`` and ``index.db``), one engine per
    file for the few files in use, the least recently used closed beyond ``OPEN_SHARDS``."""

    def __init__(self, base_dir: str, inst_data=None):
        self._engines: OrderedDict[str, db.Engine] = OrderedDict()  # used under Dagster's own _db_lock
        super().__init__(base_dir, inst_data)

    @classmethod
    def config_type(cls):
        return {"base_dir": _optional(StringSource)}

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(inst_data=inst_data, base_dir=config_value.get("base_dir") or _home("history", "runs"))

    def _shard_engine(self, shard: str) -> db.Engine:
        engine = self._engines.pop(shard, None) or _engine(self.conn_string_for_shard(shard))
        self._engines[shard] = engine
        while len(self._engines) > OPEN_SHARDS:
            self._engines.popitem(last=False)[1].dispose()
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[db.Connection]:
        # as Dagster's own: one statement at a time per process, the file set up on first use
        with self._db_lock:
            engine = self._shard_engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def _close_all(self) -> None:
        with self._db_lock:  # none is in use meanwhile
            while self._engines:
                self._engines.popitem()[1].dispose()

    def wipe(self) -> None:
        self._close_all()  # before its files are deleted
        super().wipe()

    def dispose(self) -> None:
        self._close_all()
        super().dispose()
