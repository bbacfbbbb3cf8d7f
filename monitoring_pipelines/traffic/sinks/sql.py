"""Scoring logs (and labels) as rows of a SQL table in the layout ``SqlLogSource`` reads.

The table is created at the first write when it does not exist: the deployment id, request id
and timestamp (with time zone), one column per column of the log layout (declared kinds from
``monitors.yaml``: double precision for numerical, text for categorical; without a
configuration, typed from the first batch's values) and ``extras`` (JSON). An existing table is
used as it is (reflected) and needs the deployment, request id and timestamp columns and
``extras``. A value for which the table has no column, or that does not fit its column's type,
goes into ``extras`` under its name: kept, never dropped. Each batch is one transaction of
batched inserts (``executemany``); the URL's password never appears in an error.
"""

from __future__ import annotations

import json
import numbers
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Double,
    Engine,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    inspect,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.types import TypeEngine

from monitoring_pipelines.alerts.redact import describe
from monitoring_pipelines.store.connection import redacted
from monitoring_pipelines.traffic.records import Inference, Label
from monitoring_pipelines.traffic.sinks.base import Sink, SinkError, label_row, split

EXTRAS = "extras"
KIND_TYPES: dict[str, type[TypeEngine]] = {"numerical": Double, "categorical": Text}


class SqlSink(Sink):
    """Inferences into ``table``, labels into ``labels_table`` (``log_label`` needs one);
    either may be ``schema.table``. ``deployment_column`` holds the deployment id (the
    ``deployment_column`` of ``logs: {type: sql}``), so several deployments can share a table;
    None leaves it out (a table of one deployment)."""

    def __init__(
        self,
        url: str,
        table: str,
        *,
        labels_table: str | None = None,
        deployment_column: str | None = "deployment_id",
    ):
        self.table_name = table
        self.labels_table_name = labels_table
        self.deployment_column = deployment_column
        self._url = url
        self._password = _password(url)
        self._engine: Engine | None = None
        self._tables: dict[str, Table] = {}

    def __repr__(self) -> str:
        return f"SqlSink(url={redacted(self._url)!r}, table={self.table_name!r})"

    @property
    def takes_labels(self) -> bool:
        return self.labels_table_name is not None

    def write(self, batch: Sequence[Inference | Label]) -> None:
        inferences, labels = split(batch)
        rows = [self._inference_row(r) for r in inferences]
        label_rows = [label_row(r) for r in labels]
        try:
            inserts = []  # tables first: creating one inside the transaction would deadlock SQLite
            if rows:
                table = self._table(self.table_name, lambda: self._log_columns(rows))
                inserts.append((table, parameters(table, rows)))
            if label_rows:
                assert self.labels_table_name is not None  # takes_labels guards log_label
                table = self._table(self.labels_table_name, self._label_columns)
                inserts.append((table, parameters(table, label_rows)))
            with self._connect().begin() as conn:
                for table, params in inserts:
                    conn.execute(table.insert(), params)
        except (SQLAlchemyError, OSError, ValueError) as error:
            cause = getattr(error, "orig", None) or error  # the driver's message, not the SQL
            raise SinkError(f"{redacted(self._url)}: {describe(cause, [self._password])}") from None

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()

    def _connect(self) -> Engine:
        if self._engine is None:
            self._engine = create_engine(
                self._url,
                pool_pre_ping=True,
                json_serializer=lambda value: json.dumps(value, default=str),
            )
        return self._engine

    def _inference_row(self, record: Inference) -> dict[str, Any]:
        row = self.schema.row(record)
        return (
            row
            if self.deployment_column is None
            else {
                self.deployment_column: record.deployment_id,
                **row,
            }
        )

    def _table(self, name: str, layout: Callable[[], list[Column]]) -> Table:
        """The table ``name``: reflected once, or created with the ``layout`` when missing."""
        if name in self._tables:
            return self._tables[name]
        columns = layout()
        engine = self._connect()
        schema, _, bare = name.rpartition(".")
        if not inspect(engine).has_table(bare, schema=schema or None):
            Table(bare, MetaData(), *columns, schema=schema or None).create(engine, checkfirst=True)
        table = Table(bare, MetaData(), schema=schema or None, autoload_with=engine)
        required = [c.name for c in columns if not c.nullable] + [EXTRAS]
        lacking = [c for c in required if c not in table.c]
        if lacking:
            raise ValueError(f"table {name!r} has no column(s) {lacking} (see SqlSink's layout)")
        self._tables[name] = table
        return table

    def _log_columns(self, rows: list[dict[str, Any]]) -> list[Column]:
        """Columns of a new log table: keys, the declared columns (or the batch's), extras."""
        s = self.schema
        keys = {s.request_id: String(64)}
        if self.deployment_column is not None:
            keys = {self.deployment_column: String(48), **keys}
        columns = [Column(name, kind, nullable=False) for name, kind in keys.items()]
        columns.append(Column(s.timestamp, DateTime(timezone=True), nullable=False, index=True))
        names = [*s.kinds] if s.kinds else [n for row in rows for n in row]
        names += [s.prediction, s.confidence, s.score, *s.probabilities.values(), s.latency]
        names.append("model_version")
        taken = {c.name for c in columns} | {EXTRAS, s.label}
        for name in dict.fromkeys(names):
            if name not in taken:
                columns.append(Column(name, self._type(name, rows)))
        return [*columns, Column(EXTRAS, JSON)]

    def _label_columns(self) -> list[Column]:
        label_type = KIND_TYPES.get(self.schema.kinds.get(self.schema.label) or "", Text)
        return [
            Column("deployment_id", String(48), nullable=False),
            Column("request_id", String(64), nullable=False, index=True),
            Column("label", label_type()),
            Column("label_timestamp", DateTime(timezone=True), nullable=False),
            Column(EXTRAS, JSON),
        ]

    def _type(self, name: str, rows: list[dict[str, Any]]) -> TypeEngine:
        """A column's type: its declared kind, else that of its first value in ``rows``."""
        s = self.schema
        if name in (s.confidence, s.score, s.latency, *s.probabilities.values()):
            return Double()
        kind = s.kinds.get(name)
        if kind in KIND_TYPES:
            return KIND_TYPES[kind]()
        value = next((row[name] for row in rows if row.get(name) is not None), None)
        if isinstance(value, bool):
            return Boolean()
        if isinstance(value, numbers.Real):
            return Double()
        if isinstance(value, datetime):
            return DateTime(timezone=True)
        return Text()


def parameters(table: Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Insert parameters of ``rows``, all with the same keys (``executemany`` needs them)."""
    fitted = [fit(table, row) for row in rows]
    keys = list(dict.fromkeys(key for params in fitted for key in params))
    return [{key: params.get(key) for key in keys} for params in fitted]


def fit(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    """``row`` as insert parameters of ``table``: values its columns cannot hold in ``extras``."""
    params: dict[str, Any] = {}
    extras: dict[str, Any] = {}
    for name, value in row.items():
        column = table.c.get(name)
        if column is None or name == EXTRAS:
            extras[name] = value
        elif value is None or _fits(column.type, value):
            params[name] = value
        elif isinstance(column.type, String):
            params[name] = str(value)
        else:
            extras[name] = value
    params[EXTRAS] = extras or None
    return params


def _fits(kind: TypeEngine, value: Any) -> bool:
    """Whether the driver can store ``value`` in a column of type ``kind`` as it is."""
    if isinstance(kind, Boolean):
        return isinstance(value, bool)
    if isinstance(kind, DateTime):
        return isinstance(value, datetime)
    if isinstance(kind, String):
        return isinstance(value, str)
    try:
        python_type = kind.python_type
    except NotImplementedError:
        return True
    if python_type in (int, float) or issubclass(python_type, numbers.Number):
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    return True


def _password(url: str) -> str | None:
    """The URL's password, to scrub it from error text (None when it has none)."""
    try:
        password = make_url(url).password
    except Exception:  # an unparsable URL fails at the first write, with its own message
        return None
    return None if password is None else str(password)
