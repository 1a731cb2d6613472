import VigilCore

/// Counters for the decoding loop: every record that could not be decoded is
/// counted by reason, never dropped silently.
package final class DecodeStats: Sendable {
    /// Records decoded.
    package let decoded = Counter()
    /// Records shorter than their fixed part (or than a header).
    package let tooShort = Counter()
    /// Header size disagreeing with the record length.
    package let sizeMismatch = Counter()
    /// Unknown record kinds.
    package let unknownKind = Counter()
    /// Variable-length parts running past the record.
    package let payloadOverrun = Counter()
    /// Decoded records flagged `VIGIL_HF_TRUNCATED` (some data cut to fit).
    package let truncated = Counter()

    package init() {}

    /// All decode errors.
    package var errors: UInt64 { tooShort.value + sizeMismatch.value + unknownKind.value + payloadOverrun.value }

    /// Decodes `record`, counting the outcome; nil when it is malformed.
    @inline(__always)
    package func decode(_ record: UnsafeRawBufferPointer) -> Event? {
        switch Event.decode(record) {
        case .success(let e):
            decoded.add()
            if e.isTruncated { truncated.add() }
            return e
        case .failure(let err):
            count(err)
            return nil
        }
    }

    /// Counts one decode error.
    package func count(_ err: DecodeError) {
        switch err {
        case .tooShort: tooShort.add()
        case .sizeMismatch: sizeMismatch.add()
        case .unknownKind: unknownKind.add()
        case .payloadOverrun: payloadOverrun.add()
        }
    }
}
