"""PostgreSQL for the test process: Django's backend, emptying tables with DELETE.

Tests that commit (django_db(transaction=True)) end with a flush of every table. A
TRUNCATE of them all costs ~0.15 s (new files for each table and index); deleting the
few rows a test wrote costs milliseconds, in the same transaction, with the foreign
keys (deferrable, as Django makes them) checked at commit. What is left is the same:
empty tables, sequences untouched.
"""

from django.db.backends.postgresql import base, operations


class DatabaseOperations(operations.DatabaseOperations):
    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if not tables or reset_sequences or allow_cascade:
            return super().sql_flush(
                style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
            )
        return [
            "SET CONSTRAINTS ALL DEFERRED;",
            *(f"{style.SQL_KEYWORD('DELETE FROM')} {self.quote_name(t)};" for t in tables),
        ]


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
