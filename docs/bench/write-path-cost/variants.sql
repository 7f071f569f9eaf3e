-- The variants of docs/bench/write-path-cost/run.sh: wpcost_full is the outbox table as
-- `invalidator migrate` created it; each other table is a copy with one part taken away.
CREATE TABLE wpcost_accounts (id int PRIMARY KEY, balance bigint NOT NULL DEFAULT 0,
  version bigint NOT NULL DEFAULT 0);
INSERT INTO wpcost_accounts (id) SELECT g FROM generate_series(1, 10000) g;

-- The wake-up trigger, as on wpcost_full, for the copies that keep it.
CREATE FUNCTION wpcost_trigger(t text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE CONSTRAINT TRIGGER %I AFTER INSERT ON %I DEFERRABLE INITIALLY DEFERRED'
    ' FOR EACH ROW EXECUTE FUNCTION wpcost_full_wakeup()', t || '_wakeup', t);
END
$$;

CREATE TABLE wpcost_no_trigger (LIKE wpcost_full INCLUDING ALL);

CREATE TABLE wpcost_no_checks (LIKE wpcost_full INCLUDING ALL EXCLUDING CONSTRAINTS);
DO $$ BEGIN PERFORM wpcost_trigger('wpcost_no_checks'); END $$;

CREATE TABLE wpcost_no_unique (LIKE wpcost_full INCLUDING ALL);
DO $$
DECLARE c text;
BEGIN
  SELECT conname INTO STRICT c FROM pg_constraint
    WHERE conrelid = 'wpcost_no_unique'::regclass AND contype = 'u';
  EXECUTE format('ALTER TABLE wpcost_no_unique DROP CONSTRAINT %I', c);
END
$$;
DO $$ BEGIN PERFORM wpcost_trigger('wpcost_no_unique'); END $$;

CREATE TABLE wpcost_no_unrelayed_index (LIKE wpcost_full INCLUDING ALL);
DO $$
DECLARE ix text;
BEGIN
  SELECT indexname INTO STRICT ix FROM pg_indexes
    WHERE tablename = 'wpcost_no_unrelayed_index' AND indexdef LIKE '%(id) WHERE (relayed_at IS NULL)%';
  EXECUTE format('DROP INDEX %I', ix);
END
$$;
DO $$ BEGIN PERFORM wpcost_trigger('wpcost_no_unrelayed_index'); END $$;

CREATE TABLE wpcost_bare (LIKE wpcost_full INCLUDING DEFAULTS INCLUDING IDENTITY);
ALTER TABLE wpcost_bare ADD PRIMARY KEY (id);
