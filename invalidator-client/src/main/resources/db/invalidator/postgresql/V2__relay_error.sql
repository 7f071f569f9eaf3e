-- Quarantine: a row the relay cannot turn into a valid event (an identifier with a forbidden
-- character, a malformed payload, inserted by plain SQL) is marked relayed with the reason here,
-- so it neither blocks the relay nor disappears. Retention cleanup keeps such rows.
ALTER TABLE "${schema}"."${table}" ADD COLUMN relay_error text;

COMMENT ON COLUMN "${schema}"."${table}".relay_error IS
  'Why the relay quarantined this row instead of publishing it; null for published rows.';

-- Keeps counting quarantined rows (invalidator status) cheap on a large table.
CREATE INDEX "${table}_quarantined" ON "${schema}"."${table}" (id)
  WHERE relay_error IS NOT NULL;
