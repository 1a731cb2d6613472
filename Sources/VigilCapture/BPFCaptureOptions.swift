import VigilABI
import VigilDecode

/// Settings of a live ``BPFCapture``.
package struct BPFCaptureOptions: Sendable {
    /// The BPF object to load; nil searches the usual places (see ``BPFCapture/objectSearchPaths()``).
    package var objectPath: String?
    /// Ring buffer size in bytes (a power of two, at least one page). Default 8 MiB (Falco's
    /// default buffer); libbpf maps the data area twice, so it counts twice in resident memory.
    package var ringBufferBytes: Int = 8 << 20
    /// argv bytes copied per exec (1...VIGIL_ARGS_MAX); longer argv is cut and flagged.
    package var maxArgsBytes: Int = Int(VIGIL_ARGS_DEFAULT)
    /// Environment bytes copied per exec (0...VIGIL_ENV_MAX) while the interest holds
    /// ``EventType/environmentCapture`` (a loaded rule uses `proc.env`); a longer environment is
    /// cut and flagged. 0 never copies it.
    package var maxEnvBytes: Int = Int(VIGIL_ENV_DEFAULT)
    /// Wake the reader about once per this many bytes of records from one CPU (counted in
    /// records, see ``wakeupMask``; 0: the kernel's default, a wake-up whenever the reader has
    /// caught up). The reader also polls
    /// every ``pollIntervalMs`` milliseconds, which bounds latency.
    package var wakeupBytes: Int = 256 << 10
    /// Longest sleep of the reader thread between ring drains, in milliseconds.
    package var pollIntervalMs: Int = 1
    /// The kernel's wake-up rule for ``wakeupBytes``: the reader is woken when a CPU's count of
    /// submitted records reaches a multiple of `mask + 1`, about ``wakeupBytes`` of 256-byte
    /// records (rounded up to a power of two); 0 (``wakeupBytes`` 0) wakes it on every record.
    package var wakeupMask: UInt32 {
        if wakeupBytes == 0 { return 0 }
        var n: UInt32 = 1
        while Int(n) * 256 < wakeupBytes && n < 1 << 20 { n <<= 1 }
        return n - 1
    }
    /// Drop the agent's own events in the kernel.
    package var ignoreSelf: Bool = true
    /// Event types captured from the start, every failed call included (see ``BPFCapture/setInterest(_:)``).
    package var interest = KernelInterest(types: Set(EventType.all))
    /// Mount tracefs at /sys/kernel/tracing when it is absent (needs root).
    package var mountTracefs: Bool = true

    package init() {}

    /// Checks ranges; throws ``CaptureError/invalidOption(_:)`` naming the option.
    package func validate() throws {
        if ringBufferBytes < 4096 || ringBufferBytes & (ringBufferBytes - 1) != 0 {
            throw CaptureError.invalidOption("ring buffer size \(ringBufferBytes): must be a power of two of at least 4096 bytes")
        }
        if maxArgsBytes < 1 || maxArgsBytes > Int(VIGIL_ARGS_MAX) {
            throw CaptureError.invalidOption("max args bytes \(maxArgsBytes): must be between 1 and \(VIGIL_ARGS_MAX)")
        }
        if maxEnvBytes < 0 || maxEnvBytes > Int(VIGIL_ENV_MAX) {
            throw CaptureError.invalidOption("max env bytes \(maxEnvBytes): must be between 0 and \(VIGIL_ENV_MAX)")
        }
        if wakeupBytes < 0 || wakeupBytes > ringBufferBytes {
            throw CaptureError.invalidOption("wake-up bytes \(wakeupBytes): must be between 0 and the ring size \(ringBufferBytes)")
        }
        if pollIntervalMs < 1 || pollIntervalMs > 1000 {
            throw CaptureError.invalidOption("poll interval \(pollIntervalMs) ms: must be between 1 and 1000")
        }
    }
}
