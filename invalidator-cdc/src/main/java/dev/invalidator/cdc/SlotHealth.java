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
 *     does not exist
 */
public record SlotHealth(
    String slotName,
    boolean exists,
    boolean active,
    long retainedWalBytes,
    long unconfirmedBytes) {}
