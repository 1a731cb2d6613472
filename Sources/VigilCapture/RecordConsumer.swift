import VigilDecode

/// Receives records from a ``RecordSource``, validated once by the source
/// (`Event.decode`, counted in ``CaptureStats``; malformed records never arrive).
///
/// Sources call a consumer through a generic parameter (never an existential),
/// always from one thread at a time: the live source's reader thread, or the
/// thread that called ``RecordSource/run(_:)``. The event passed to
/// ``consume(_:)`` is valid only during the call (for the live source it points into
/// the ring buffer itself); copy its bytes (``OwnedRecord``) to keep it.
package protocol RecordConsumer: AnyObject {
    /// Handles one validated record. Must not block for long: the kernel ring fills while it runs.
    func consume(_ event: Event)
    /// Called after each batch of records (a ring drain, a file chunk): a good place to flush output.
    func endOfBatch()
    /// Called when the source had nothing to deliver for a poll interval (a quiet ring):
    /// periodic work (timers, held alerts, readiness) still gets to run.
    func idle()
    /// Called once when the source ends or is stopped, after the last record.
    func finish()
}

extension RecordConsumer {
    package func endOfBatch() {}
    package func idle() {}
    package func finish() {}
}
