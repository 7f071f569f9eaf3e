package dev.invalidator.cdc;

/**
 * The state of a CDC relay's replication slot, as PostgreSQL reports it ({@code
 * pg_replication_slots}), for health checks and metrics.
 *
 * @param slotName the slot
 * @param exists whether the slot exists; false before the first start and after {@link
 *     CdcRelay#decommission()}
 * @param active whether a walsender streams from it (the relay is connected)
 * @param retainedWalBytes WAL the server keeps for the slot, from its {@code restart_lsn} to the
 *     current WAL position: what a relay that stays down makes the disk hold; 0 when the slot does
 *     not exist
 * @param unconfirmedBytes WAL not yet confirmed by the relay, from {@code confirmed_flush_lsn} to
 *     the current WAL position (any table's writes count, not only the outbox's); 0 when the slot
 *     does not exist; exported as {@code invalidator_cdc_slot_lag_bytes}
 * @param walStatus PostgreSQL's {@code wal_status}: {@code reserved}, {@code extended}, {@code
 *     unreserved} (WAL beyond {@code max_slot_wal_keep_size}, about to be removed) or {@code lost}
 *     (the WAL the slot needs is gone: the relay cannot resume); null when the slot does not exist
 * @param activePid the walsender's process id while a relay streams from the slot, else null
 * @param safeWalSizeBytes PostgreSQL's {@code safe_wal_size}: how many more bytes of WAL can be
 *     written before the slot's {@code wal_status} becomes {@code lost}; null when the server keeps
 *     WAL for slots without limit ({@code max_slot_wal_keep_size = -1}, the default), when the slot
 *     is already lost, or when it does not exist
 */
public record SlotHealth(
    String slotName,
    boolean exists,
    boolean active,
    long retainedWalBytes,
    long unconfirmedBytes,
    String walStatus,
    Integer activePid,
    Long safeWalSizeBytes) {
  /** The {@code wal_status} values, and {@code missing} for a slot that does not exist. */
  public static final java.util.List<String> WAL_STATUSES =
      java.util.List.of("reserved", "extended", "unreserved", "lost", "missing");

  /** {@link #walStatus()}, or {@code missing} when the slot does not exist. */
  public String walStatusOrMissing() {
    return exists ? walStatus : "missing";
  }
}
