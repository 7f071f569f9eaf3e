-- The variants of docs/bench/write-path-cost/run.sh: wpcost_full is the outbox table as
-- `invalidator migrate` created it; each other table is a copy with one part taken away.
CREATE TABLE wpcost_accounts (id int PRIMARY KEY, balance bigint NOT NULL DEFAULT 0,
  version bigint NOT NULL DEFAULT 0);
INSERT INTO wpcost_accounts (id) SELECT g FROM generate_series(1, 10000) g;

-- A copy of wpcost_full (LIKE ... INCLUDING ALL copies columns, defaults, identity, CHECKs and
-- indexes, not the trigger) without `part`: 'trigger', 'checks', 'unique' or 'unrelayed index'.
CREATE FUNCTION wpcost_copy(t text, part text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE name text;
BEGIN
  EXECUTE format('CREATE TABLE %I (LIKE wpcost_full INCLUDING ALL %s)', t,
    CASE WHEN part = 'checks' THEN 'EXCLUDING CONSTRAINTS' ELSE '' END);
  IF part = 'unique' THEN
    SELECT conname INTO STRICT name FROM pg_constraint
      WHERE conrelid = t::regclass AND contype = 'u';
    EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', t, name);
  ELSIF part = 'unrelayed index' THEN
    SELECT indexname INTO STRICT name FROM pg_indexes
      WHERE tablename = t AND indexdef LIKE '%(id) WHERE (relayed_at IS NULL)%';
    EXECUTE format('DROP INDEX %I', name);
  END IF;
  IF part <> 'trigger' THEN
    EXECUTE format('CREATE CONSTRAINT TRIGGER %I AFTER INSERT ON %I DEFERRABLE INITIALLY DEFERRED'
      ' FOR EACH ROW EXECUTE FUNCTION wpcost_full_wakeup()', t || '_wakeup', t);
  END IF;
END
$$;

DO $$
BEGIN
  PERFORM wpcost_copy('wpcost_no_trigger', 'trigger');
  PERFORM wpcost_copy('wpcost_no_checks', 'checks');
  PERFORM wpcost_copy('wpcost_no_unique', 'unique');
  PERFORM wpcost_copy('wpcost_no_unrelayed_index', 'unrelayed index');
END
$$;

-- Only the columns, their defaults and the primary key.
CREATE TABLE wpcost_bare (LIKE wpcost_full INCLUDING DEFAULTS INCLUDING IDENTITY);
ALTER TABLE wpcost_bare ADD PRIMARY KEY (id);
