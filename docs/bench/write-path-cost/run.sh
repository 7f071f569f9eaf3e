#!/usr/bin/env bash
# What each part of the outbox row costs a writer: pgbench, the write-path scenario's transaction
# (UPDATE one of 10,000 rows, then the outbox INSERT pipelined with the COMMIT, as
# OutboxWriter.appendAndCommit sends it), against the same transaction with a `SELECT 1` in the
# INSERT's place. Each variant is the outbox table `invalidator migrate` creates with one part
# taken away; "bare" keeps only the columns, their defaults and the primary key; "logical_message"
# writes no row at all, only a transactional pg_logical_emit_message of the event as JSON (a WAL
# record that only change data capture can read).
#
#   docs/bench/write-path-cost/run.sh 'host=127.0.0.1 user=postgres dbname=test' [rounds] [seconds]
#
# Needs psql and pgbench (PostgreSQL 14 or later, for \startpipeline) and ./invalidator (for
# `invalidator migrate`). A password comes from PGPASSWORD (psql and pgbench also read
# ~/.pgpass). Works in tables wpcost_*, removed afterwards.
set -euo pipefail
conninfo=${1:?usage: run.sh '<libpq conninfo>' [rounds] [seconds]}
rounds=${2:-5}
seconds=${3:-8}
clients=4
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"; psql -q "$conninfo" -f "$here/drop.sql" >/dev/null 2>&1 || true' EXIT

dbname=$(psql -Atq "$conninfo" -c 'SELECT current_database()')
host=$(psql -Atq "$conninfo" -c "SELECT coalesce(host(inet_server_addr()), 'localhost')")
port=$(psql -Atq "$conninfo" -c 'SELECT inet_server_port()')
user=$(psql -Atq "$conninfo" -c 'SELECT current_user')
psql -q "$conninfo" -f "$here/drop.sql" >/dev/null 2>&1 || true
INVALIDATOR_POSTGRES_TABLE=wpcost_full INVALIDATOR_POSTGRES_PASSWORD="${PGPASSWORD:-}" \
  "$root/invalidator" migrate \
  --db-url "jdbc:postgresql://$host:$port/$dbname?user=$user" >/dev/null
psql -q "$conninfo" -v ON_ERROR_STOP=1 -f "$here/variants.sql"

insert="INSERT INTO %s (event_id, tenant_id, aggregate_type, aggregate_id, aggregate_version, event_type, payload) VALUES (gen_random_uuid(), 'tenant-1', 'account', :aid::text, 1, 'account.updated', '{}');"
variants="select1 full no_trigger no_checks no_unique no_unrelayed_index bare logical_message"
for v in $variants; do
  if [ "$v" = select1 ]; then
    stmt="SELECT 1;"
  elif [ "$v" = logical_message ]; then
    stmt="SELECT pg_logical_emit_message(true, 'invalidator', '{\"tenant_id\":\"tenant-1\",\"aggregate_type\":\"account\",\"aggregate_id\":\"' || :aid || '\",\"aggregate_version\":1,\"event_type\":\"account.updated\"}');"
  else
    # shellcheck disable=SC2059
    stmt=$(printf "$insert" "wpcost_$v")
  fi
  printf '\\set aid random(1, 10000)\nBEGIN;\nUPDATE wpcost_accounts SET balance = balance + 1, version = version + 1 WHERE id = :aid RETURNING version;\n\\startpipeline\n%s\nCOMMIT;\n\\endpipeline\n' \
    "$stmt" >"$work/$v.sql"
done

echo "pgbench, $clients clients, $rounds rounds of ${seconds} s per variant, alternated"
for r in $(seq "$rounds"); do
  for v in $variants; do
    out=$(pgbench -n -h "$host" -p "$port" -U "$user" -c "$clients" -j 2 -T "$seconds" \
      -M extended -f "$work/$v.sql" "$dbname" 2>&1) || true
    tps=$(awk '/^tps/ {print $3}' <<<"$out")
    if [ -z "$tps" ]; then
      echo "run.sh: pgbench gave no rate for variant $v:" >&2
      echo "$out" >&2
      exit 1
    fi
    echo "$v $tps" >>"$work/results"
    printf '  round %d/%d %-20s %8.0f tx/s\n' "$r" "$rounds" "$v" "$tps"
  done
done
awk -v vs="$variants" '
  { sum[$1] += $2; n[$1]++ }
  END {
    base = sum["select1"] / n["select1"]
    printf "| variant | tx/s (mean) | vs SELECT 1 |\n| --- | ---: | ---: |\n"
    split(vs, order, " ")
    for (i = 1; i <= length(order); i++) {
      v = order[i]; m = sum[v] / n[v]
      printf "| %s | %.0f | %.2fx |\n", v, m, m / base
    }
  }' "$work/results"
