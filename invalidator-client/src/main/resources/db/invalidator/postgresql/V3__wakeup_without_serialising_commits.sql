-- The wake-up trigger of V1 sent one NOTIFY per inserting transaction. PostgreSQL serialises the
-- commits of every transaction that sent a NOTIFY (one lock held from pre-commit until the
-- commit is flushed), so outbox writers lost group commit: measured with pgbench, 16 clients,
-- 4,100 tx/s with it against 16,900 without (invalidator bench showed the same cap).
--
-- Now the trigger runs at commit (deferred) and notifies only when no other outbox transaction
-- of this table is notifying at that moment (a transaction-scoped advisory lock, tried, never
-- waited for). Transactions that skip are committing alongside the one that notifies; the relay
-- drains after the wake-up and checks once more shortly after, which picks them up, and its
-- fallback poll bounds the rest. Measured the same way: 13,300 tx/s.
DROP TRIGGER IF EXISTS "${table}_wakeup" ON "${schema}"."${table}";

CREATE OR REPLACE FUNCTION "${schema}"."${table}_wakeup"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  -- 1229870679 is 'INVW'; the second key names the channel, so two outboxes never share it.
  IF pg_try_advisory_xact_lock(1229870679, hashtext('${channel}')) THEN
    PERFORM pg_notify('${channel}', '');
  END IF;
  RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER "${table}_wakeup" AFTER INSERT ON "${schema}"."${table}"
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION "${schema}"."${table}_wakeup"();
