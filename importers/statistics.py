"""The planner's statistics of the table an import fills, refreshed when it has grown a lot.

A first import of a million invoices into a table of twenty thousand leaves the query
planner with the statistics of the small table: the pages read during (and after) the import
are planned for twenty thousand rows (SQLite has no automatic ANALYZE at all; PostgreSQL's
autovacuum comes a minute or more later). So, once the run has written ANALYZE_AFTER_ROWS
records (not per batch: an ANALYZE reads a sample of the whole table), the table is analyzed
once, between two batches; and again when such a run ends, so that the pages after it are
planned for the table as it now is. On PostgreSQL a role that does not own the table is
skipped by ANALYZE with a warning (production's application role: autovacuum does it there).
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import text

from app.entities import Entity
from app.extensions import db
from app.models import ImportRun

log = logging.getLogger(__name__)
ANALYZE_AFTER_ROWS = 100_000
SQLITE_ANALYSIS_LIMIT = 2000  # rows sampled per index: an estimate in milliseconds


class TableStatistics:
    """Analyze the entity's tables at most once during a run and once at its end."""

    def __init__(self, entity: Entity, after_rows: int | None = None) -> None:
        self.tables = [entity.model.__table__.name]
        if entity.line_model is not None:
            self.tables.append(entity.line_model.__table__.name)
        self.after_rows = after_rows or ANALYZE_AFTER_ROWS
        self.analyzed_during = False

    def watching(self, progress: Callable[[ImportRun], None] | None
                 ) -> Callable[[ImportRun], None]:
        """The run's progress callback (called after each committed batch), analyzing the
        tables once the run has written enough."""
        def after_batch(run: ImportRun) -> None:
            if not self.analyzed_during and not run.is_dry_run \
                    and _written(run) >= self.after_rows:
                self.analyzed_during = True
                self.analyze()
            if progress is not None:
                progress(run)

        return after_batch

    def after_run(self, run: ImportRun) -> None:
        """Once the run has ended (committed): analyze again after a large one."""
        if not run.is_dry_run and _written(run) >= self.after_rows:
            self.analyze()

    def analyze(self) -> None:
        """ANALYZE the tables in a transaction of their own; a failure only logs."""
        try:
            connection = db.session.connection()
            if connection.dialect.name == "sqlite":
                connection.exec_driver_sql(f"PRAGMA analysis_limit={SQLITE_ANALYSIS_LIMIT}")
            for table in self.tables:
                connection.execute(text(f'ANALYZE "{table}"'))
            db.session.commit()
        except Exception:  # statistics are an optimisation: the run goes on without them
            log.exception("ANALYZE %s failed", ", ".join(self.tables))
            db.session.rollback()


def _written(run: ImportRun) -> int:
    return run.created + run.updated
