"""PostgreSQL for the test process: Django's backend, emptying tables with DELETE.

Tests that commit (django_db(transaction=True)) end with a flush of every table. A
TRUNCATE of them all costs ~0.15 s (new files for each table and index); deleting the
few rows a test wrote costs milliseconds. The tables are locked first, as TRUNCATE
locks them, so a write still in flight from the test (a worker thread's) is waited
for and deleted too; the foreign keys (deferrable, as Django makes them) are checked
at commit. What is left is the same: empty tables, sequences untouched.
"""

from django.db import OperationalError
from django.db.backends.postgresql import base, operations

DEADLOCK = "40P01"


class DatabaseOperations(operations.DatabaseOperations):
    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if not tables or reset_sequences or allow_cascade:
            return super().sql_flush(
                style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
            )
        quoted = [self.quote_name(table) for table in tables]
        return [
            f"LOCK TABLE {', '.join(quoted)} IN ACCESS EXCLUSIVE MODE;",
            "SET CONSTRAINTS ALL DEFERRED;",
            *(f"DELETE FROM {table};" for table in quoted),
        ]

    def execute_sql_flush(self, sql_list):
        """Flush; again if PostgreSQL chose it as a deadlock's victim. A live server that a
        module's tests share (tests/conftest.py) may be writing its registry meanwhile."""
        for attempt in range(3):
            try:
                return super().execute_sql_flush(sql_list)
            except OperationalError as error:
                if attempt == 2 or getattr(error.__cause__, "sqlstate", None) != DEADLOCK:
                    raise


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
