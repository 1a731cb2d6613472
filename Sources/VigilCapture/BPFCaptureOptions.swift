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
    /// Wake the reader when this many bytes of records wait unread in the ring (0: the kernel's
    /// default, a wake-up whenever the reader has caught up). The kernel checks the ring once per
    /// ``wakeupCheckRecords`` records of a CPU, so a burst may pass the mark by that many records
    /// per CPU before the wake-up. The reader also polls every ``pollIntervalMs`` milliseconds,
    /// which bounds a record's wait.
    /// nil: ``defaultWakeupBytes(ringBytes:)`` (``resolvedWakeupBytes``).
    package var wakeupBytes: Int? = nil
    /// Longest sleep of the reader thread between ring drains, in milliseconds.
    package var pollIntervalMs: Int = 1
    /// How often (in records of one CPU, a power of two) the kernel compares the ring's unread
    /// bytes with ``wakeupBytes``: one `bpf_ringbuf_query` per this many records.
    package static let wakeupCheckRecords: UInt32 = 64
    /// `vigil_config.wakeup_mask`: ``wakeupCheckRecords`` - 1, or 0 (the kernel's default
    /// wake-up) when ``wakeupBytes`` is 0.
    package var wakeupMask: UInt32 { resolvedWakeupBytes == 0 ? 0 : Self.wakeupCheckRecords - 1 }
    /// ``wakeupBytes``, or a quarter of the ring when it is nil: a storm the reader keeps up with
    /// (it drains the ring every millisecond or so) never reaches it, so the kernel sends no
    /// wake-up (each one is an inter-processor interrupt, a VM exit on a virtual machine).
    package var resolvedWakeupBytes: Int { wakeupBytes ?? Self.defaultWakeupBytes(ringBytes: ringBufferBytes) }
    /// ``wakeupBytes`` when not set, for a ring of `ringBytes`: 2 MiB, at most a quarter of the ring.
    package static func defaultWakeupBytes(ringBytes: Int) -> Int { min(2 << 20, ringBytes / 4) }
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
        if let w = wakeupBytes, w < 0 || w > ringBufferBytes {
            throw CaptureError.invalidOption("wake-up bytes \(w): must be between 0 and the ring size \(ringBufferBytes)")
        }
        if pollIntervalMs < 1 || pollIntervalMs > 1000 {
            throw CaptureError.invalidOption("poll interval \(pollIntervalMs) ms: must be between 1 and 1000")
        }
    }
}
