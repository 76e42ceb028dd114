"""The store's DuckDB tables. The event log is the truth; every other table can be derived from it."""

from __future__ import annotations

import duckdb

SCHEMA_VERSION = "1"

DDL = """
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE SEQUENCE IF NOT EXISTS event_seq;
CREATE TABLE IF NOT EXISTS events (
    id VARCHAR PRIMARY KEY,
    dataset_id VARCHAR NOT NULL,
    kind INTEGER NOT NULL,
    pubkey VARCHAR NOT NULL,
    created_at BIGINT NOT NULL,
    clock BIGINT NOT NULL,
    parents VARCHAR[] NOT NULL,
    raw VARCHAR NOT NULL,
    sig_ok BOOLEAN NOT NULL,
    seq BIGINT NOT NULL,
    received_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS heads (dataset_id VARCHAR NOT NULL, event_id VARCHAR NOT NULL, clock BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS datasets (
    id VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    type VARCHAR NOT NULL,
    visibility VARCHAR NOT NULL,
    owner VARCHAR NOT NULL,
    description VARCHAR NOT NULL,
    genesis_id VARCHAR NOT NULL,
    created_at BIGINT NOT NULL,
    origin JSON
);
CREATE TABLE IF NOT EXISTS resources (
    dataset_id VARCHAR NOT NULL,
    key VARCHAR NOT NULL,
    definition JSON NOT NULL,
    event_id VARCHAR NOT NULL,
    clock BIGINT NOT NULL,
    tbl VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS record_ops (
    dataset_id VARCHAR NOT NULL,
    resource VARCHAR NOT NULL,
    record_id VARCHAR NOT NULL,
    event_id VARCHAR NOT NULL,
    clock BIGINT NOT NULL,
    op_index INTEGER NOT NULL,
    op VARCHAR NOT NULL,
    -- the op's field values as JSON text; a key present with null is an explicit clear
    fields VARCHAR
);
CREATE TABLE IF NOT EXISTS rejected (
    event_id VARCHAR,
    dataset_id VARCHAR,
    reason VARCHAR NOT NULL,
    raw VARCHAR,
    received_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS pending (event_id VARCHAR NOT NULL, dataset_id VARCHAR NOT NULL, raw VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS state_cache (dataset_id VARCHAR PRIMARY KEY, marker VARCHAR NOT NULL, state_hash VARCHAR NOT NULL);
"""


def create_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(DDL)
    row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None:
        con.execute("INSERT INTO meta VALUES ('schema_version', ?)", [SCHEMA_VERSION])
