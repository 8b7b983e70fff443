"""PostgreSQL access: the pool, migrations, error mapping and the embedded server."""

from contactcenter.db.database import (
    Database,
    StoreConflict,
    StoreError,
    StoreInputError,
    StoreRetryable,
    StoreUnavailable,
    retrying,
)

__all__ = [
    "Database", "StoreConflict", "StoreError", "StoreInputError", "StoreRetryable", "StoreUnavailable", "retrying",
]
