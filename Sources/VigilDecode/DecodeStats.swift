import VigilCore

/// Counters for the decoding loop: every record that could not be decoded is
/// counted by reason, never dropped silently.
public final class DecodeStats: Sendable {
    /// Records decoded.
    public let decoded = Counter()
    /// Records shorter than their fixed part (or than a header).
    public let tooShort = Counter()
    /// Header size disagreeing with the record length.
    public let sizeMismatch = Counter()
    /// Unknown record kinds.
    public let unknownKind = Counter()
    /// Variable-length parts running past the record.
    public let payloadOverrun = Counter()
    /// Decoded records flagged `VIGIL_HF_TRUNCATED` (some data cut to fit).
    public let truncated = Counter()

    public init() {}

    /// All decode errors.
    public var errors: UInt64 { tooShort.value + sizeMismatch.value + unknownKind.value + payloadOverrun.value }

    /// Decodes `record`, counting the outcome; nil when it is malformed.
    @inline(__always)
    public func decode(_ record: UnsafeRawBufferPointer) -> Event? {
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
    public func count(_ err: DecodeError) {
        switch err {
        case .tooShort: tooShort.add()
        case .sizeMismatch: sizeMismatch.add()
        case .unknownKind: unknownKind.add()
        case .payloadOverrun: payloadOverrun.add()
        }
    }
}
