DROP TABLE IF EXISTS wpcost_accounts, wpcost_no_trigger, wpcost_no_checks, wpcost_no_unique,
  wpcost_no_unrelayed_index, wpcost_bare, wpcost_full, wpcost_full_schema_history CASCADE;
DROP FUNCTION IF EXISTS wpcost_copy(text, text);
DROP FUNCTION IF EXISTS wpcost_full_wakeup() CASCADE;
