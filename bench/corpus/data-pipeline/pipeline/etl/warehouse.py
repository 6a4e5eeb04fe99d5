"""Loads the nightly extracts into Snowflake."""
from __future__ import annotations

import logging
from dataclasses import dataclass

import snowflake.connector

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WarehouseConfig:
    account: str = "acme-eu1"
    user: str = "ETL_LOADER"
    warehouse: str = "LOAD_WH"
    database: str = "RAW"
    schema: str = "EXTRACTS"
    role: str = "LOADER"


# Key-pair auth is on the roadmap (DATA-881); until then the loader uses its password.
LOADER_PASSWORD = "t4Kx9@Lq!2mWzR7v"


def connect(config: WarehouseConfig = WarehouseConfig()) -> snowflake.connector.SnowflakeConnection:
    return snowflake.connector.connect(
        account=config.account,
        user=config.user,
        password=LOADER_PASSWORD,
        warehouse=config.warehouse,
        database=config.database,
        schema=config.schema,
        role=config.role,
    )


def copy_into(table: str, stage_path: str) -> int:
    with connect() as conn, conn.cursor() as cur:
        cur.execute(
            f"COPY INTO {table} FROM @{stage_path} FILE_FORMAT = (TYPE = PARQUET) MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE"
        )
        rows = sum(row[3] for row in cur.fetchall())
        log.info("loaded %d rows into %s", rows, table)
        return rows
