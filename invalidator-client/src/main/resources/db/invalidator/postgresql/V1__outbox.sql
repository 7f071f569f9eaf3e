-- The outbox table of DESIGN.md ("Outbox table"): a public contract, non-Java producers may
-- insert with plain SQL. Placeholders: schema, table, channel (validated by OutboxTable).
--
-- The CHECK constraints refuse rows that could never become a valid event, so a plain-SQL
-- producer gets an error in its own transaction instead of a quarantined row later. They check
-- emptiness and lengths only; the character rules of identifiers live in one place, the core's
-- Identifiers, and a row that breaks them is quarantined by the relay (see V2).
CREATE TABLE "${schema}"."${table}" (
  id                bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id          uuid        NOT NULL UNIQUE,
  tenant_id         text        NOT NULL CHECK (char_length(tenant_id) BETWEEN 1 AND 64),
  aggregate_type    text        NOT NULL CHECK (char_length(aggregate_type) BETWEEN 1 AND 128),
  aggregate_id      text        NOT NULL CHECK (char_length(aggregate_id) BETWEEN 1 AND 128),
  aggregate_version bigint      NOT NULL CHECK (aggregate_version >= 0),
  event_type        text        NOT NULL CHECK (char_length(event_type) BETWEEN 1 AND 128),
  payload           jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(payload) = 'object'),
  traceparent       text,
  tracestate        text,
  created_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
  relayed_at        timestamptz
);

-- What the relay claims: unrelayed rows in id order.
CREATE INDEX "${table}_unrelayed" ON "${schema}"."${table}" (id) WHERE relayed_at IS NULL;

-- What retention cleanup deletes: relayed rows older than the window.
CREATE INDEX "${table}_relayed_at" ON "${schema}"."${table}" (relayed_at)
  WHERE relayed_at IS NOT NULL;

-- Wakes the relay (LISTEN "${channel}") once per inserting statement, whoever inserts.
-- PostgreSQL delivers notifications only on commit and folds identical ones of one transaction,
-- so a transaction sends at most one, and a rolled-back one sends none.
CREATE FUNCTION "${schema}"."${table}_wakeup"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('${channel}', '');
  RETURN NULL;
END
$$;

CREATE TRIGGER "${table}_wakeup" AFTER INSERT ON "${schema}"."${table}"
  FOR EACH STATEMENT EXECUTE FUNCTION "${schema}"."${table}_wakeup"();

COMMENT ON TABLE "${schema}"."${table}" IS
  'Invalidator transactional outbox: insert in the business transaction; the relay publishes committed rows.';
