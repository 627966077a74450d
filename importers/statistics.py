"""The planner's statistics of the table an import fills, refreshed when it has grown a lot.

A first import of a million invoices into a table of twenty thousand leaves the query
planner with the statistics of the small table: the pages read during (and after) the import
are planned for twenty thousand rows (SQLite has no automatic ANALYZE at all; PostgreSQL's
autovacuum comes a minute or more later). So, once the run has written ANALYZE_AFTER_ROWS
records, the table is analyzed between two batches, and again each time the run's records
have doubled since (100,000, 200,000, 400,000, 800,000: not per batch, an ANALYZE reads a
sample of the whole table; a single one at 100,000 left the pages of a million-row import
planned for a table eight times smaller); and when such a run ends, unless nothing was
written since the last, so that the pages after it are planned for the table as it now is.
On PostgreSQL a role that does not own the table is skipped by ANALYZE with a warning
(production's application role: autovacuum does it there). On SQLite the whole table is read
(no `analysis_limit`): a sample of a few thousand rows per index records that a tenant holds
that many rows, and the planner then reads a tenant's million records through its index to
find a thousand of them by id (a revert's chunk: 0.28 s instead of 0.004).
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


class TableStatistics:
    """Analyze the entity's tables as a run's records double, and at its end."""

    def __init__(self, entity: Entity, after_rows: int | None = None) -> None:
        self.tables = [entity.model.__table__.name]
        if entity.line_model is not None:
            self.tables.append(entity.line_model.__table__.name)
        self.after_rows = after_rows or ANALYZE_AFTER_ROWS
        self.next_at = self.after_rows  # records written at the next analysis
        self.analyzed_at: int | None = None  # records written at the last one

    def watching(self, progress: Callable[[ImportRun], None] | None
                 ) -> Callable[[ImportRun], None]:
        """The run's progress callback (called after each committed batch), analyzing the
        tables when the run's records reach the next threshold (then twice as many)."""
        def after_batch(run: ImportRun) -> None:
            written = _written(run)
            if not run.is_dry_run and written >= self.next_at:
                self.next_at = 2 * written
                self.analyzed_at = written
                self.analyze()
            if progress is not None:
                progress(run)

        return after_batch

    def after_run(self, run: ImportRun) -> None:
        """Once the run has ended (committed): analyze again after a large one, unless the
        last analysis saw every record it wrote."""
        written = _written(run)
        if not run.is_dry_run and written >= self.after_rows and written != self.analyzed_at:
            self.analyze()

    def analyze(self) -> None:
        """ANALYZE the tables in a transaction of their own; a failure only logs."""
        try:
            connection = db.session.connection()
            for table in self.tables:
                connection.execute(text(f'ANALYZE "{table}"'))
            db.session.commit()
        except Exception:  # statistics are an optimisation: the run goes on without them
            log.exception("ANALYZE %s failed", ", ".join(self.tables))
            db.session.rollback()


def _written(run: ImportRun) -> int:
    return run.created + run.updated
