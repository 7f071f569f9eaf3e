-- The outbox table of DESIGN.md ("Outbox table") for MySQL 8.0.16+ and MariaDB 10.6+: the same
-- columns as PostgreSQL's (V1 and V2 there), a public contract, non-Java producers may insert
-- with plain SQL. Placeholders: prefix (`database`. or empty for the URL's database) and table,
-- validated by OutboxTable.
--
-- Differences, each for a reason:
-- - event_id is CHAR(36), the UUID's text form (MySQL has no uuid type).
-- - Identifiers are VARCHARs of their maximum length with a binary collation, so 'Acme' and
--   'acme' are different tenants, as in PostgreSQL.
-- - created_at and relayed_at are DATETIME(6) holding UTC (UTC_TIMESTAMP(6)), never converted by
--   the session's time zone; a TIMESTAMP column would be converted on every read and write.
-- - payload is JSON (MariaDB: LONGTEXT checked by JSON_VALID) and must be an object.
-- - No trigger: there is no LISTEN/NOTIFY, the relay polls.
CREATE TABLE ${prefix}`${table}` (
  id                BIGINT       NOT NULL AUTO_INCREMENT,
  event_id          CHAR(36)     NOT NULL,
  tenant_id         VARCHAR(64)  NOT NULL,
  aggregate_type    VARCHAR(128) NOT NULL,
  aggregate_id      VARCHAR(128) NOT NULL,
  aggregate_version BIGINT       NOT NULL,
  event_type        VARCHAR(128) NOT NULL,
  payload           JSON         NOT NULL DEFAULT ('{}'),
  traceparent       TEXT         NULL,
  tracestate        TEXT         NULL,
  created_at        DATETIME(6)  NOT NULL DEFAULT (UTC_TIMESTAMP(6)),
  relayed_at        DATETIME(6)  NULL,
  relay_error       TEXT         NULL,
  PRIMARY KEY (id),
  UNIQUE KEY `${table}_event_id` (event_id),
  -- What the relay claims (relayed_at IS NULL, in id order) and what retention cleanup deletes
  -- (relayed_at below the cutoff): one index serves both.
  KEY `${table}_relayed_at` (relayed_at, id),
  KEY `${table}_quarantined` (relay_error(1)),
  CHECK (char_length(event_id) = 36),
  CHECK (char_length(tenant_id) >= 1),
  CHECK (char_length(aggregate_type) >= 1),
  CHECK (char_length(aggregate_id) >= 1),
  CHECK (aggregate_version >= 0),
  CHECK (char_length(event_type) >= 1),
  CHECK (JSON_TYPE(payload) = 'OBJECT')
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin
  COMMENT = 'Invalidator transactional outbox: insert in the business transaction; the relay publishes committed rows.';
