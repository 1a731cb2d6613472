/// A copy of one record that outlives the ring-buffer callback (holding areas,
/// capture files, synthetic input). Use ``withEvent(_:)`` to read it.
package struct OwnedRecord: Sendable {
    /// The raw record bytes (a `vigil_header` and its body).
    package let bytes: [UInt8]
    package init(bytes: [UInt8]) { self.bytes = bytes }
    package init(copying raw: UnsafeRawBufferPointer) { self.bytes = Array(raw) }

    /// Decodes the record and passes the event to `body`.
    package func withEvent<R>(_ body: (Event) throws -> R) rethrows -> Result<R, DecodeError> {
        try bytes.withUnsafeBytes { raw in
            switch Event.decode(raw) {
            case .success(let e): return .success(try body(e))
            case .failure(let err): return .failure(err)
            }
        }
    }
}
