#if canImport(Glibc)
import Glibc
#endif
import CLibBPF
import Synchronization
import VigilABI
import VigilCore
import VigilDecode

/// The live capture: Vigil's BPF programs loaded through libbpf, their maps, and
/// the ring-buffer reader thread.
///
/// Life cycle:
/// ```swift
/// let capture = try BPFCapture(options: opts)   // checks privileges, loads, attaches, fills maps
/// try capture.start(consumer)                     // reader thread calls consumer.consume(record) per record
/// capture.setInterest([...])                      // any time: which event types the kernel emits
/// let s = capture.stats()                         // counters, kernel drops included
/// capture.stop()                                  // detach, drain the ring, consumer.finish(), join
/// ```
/// or, to read on a thread of the caller's own (the agent's `vigil-pipeline` thread),
/// `try capture.run(consumer)`, which returns after ``stop()``.
///
/// The reader is an OS thread (not a Swift task): it sleeps in `epoll_wait`
/// for at most ``BPFCaptureOptions/pollIntervalMs`` and then drains the ring, so
/// latency stays bounded even though the kernel side wakes it only once per batch of
/// unread bytes (``BPFCaptureOptions/wakeupBytes``). A poll that times out on a quiet ring
/// calls the consumer's `idle()`, so periodic work still runs. Records are validated and counted
/// before the consumer sees them; malformed ones are counted as decode errors and skipped.
/// The reader shares only a ``ReaderControl`` with the capture (never the capture itself),
/// so releasing a started capture without ``stop()`` stops and joins the reader safely.
package final class BPFCapture: @unchecked Sendable {
    /// The options the capture was created with.
    package let options: BPFCaptureOptions
    /// The BPF object file that was loaded.
    package private(set) var objectPath: String = ""

    var object: OpaquePointer?
    private var links: [OpaquePointer] = []
    private var eventsFD: Int32 = -1
    private var selectFD: Int32 = -1
    private var kstatsFD: Int32 = -1
    /// What `vigil_select.config` holds (the environment copy is turned on and off with the interest).
    private var kernelConfig = vigil_config()
    private var configWritten = false
    /// The failed-open path slots of the selection written last (``KernelSelection/failedPath``).
    private var failedPathSlots: [[UInt8]?] = []
    private var possibleCPUs: Int = 1
    private let lock = Mutex<Void>(())
    private let counter = RecordCounter()
    private let interestState = MutexBox<KernelInterest>([])

    // Reader state.
    let control = ReaderControl()
    private let readerThread = Mutex<NamedThread?>(nil)
    private let started = Atomic<Bool>(false)
    private let stopped = Atomic<Bool>(false)

    /// Loads and attaches the programs and fills the maps. Throws a ``CaptureError``
    /// that says what is wrong (privileges, BTF, object, verifier log tail, ...).
    package init(options: BPFCaptureOptions = BPFCaptureOptions()) throws {
        try options.validate()
        self.options = options
        LibBPFLog.install()
        LibBPFLog.clear()
        try BPFCapture.checkPrivileges()
        let btf = "/sys/kernel/btf/vmlinux"
        if access(btf, R_OK) != 0 { throw CaptureError.btfUnavailable(path: btf) }
        if options.mountTracefs { BPFCapture.ensureTracefs() }

        let path = try options.objectPath ?? BPFCapture.findObject()
        if options.objectPath != nil && access(path, R_OK) != 0 {
            throw CaptureError.objectNotFound(searched: [path])
        }
        objectPath = path

        guard let obj = bpf_object__open_file(path, nil) else {
            throw CaptureError.openFailed(path: path, errno: errno, log: LibBPFLog.tail(10))
        }
        object = obj  // closed by deinit if anything below throws

        guard let events = bpf_object__find_map_by_name(obj, "events") else { throw CaptureError.mapFailed(map: "events", errno: ENOENT) }
        let r = bpf_map__set_max_entries(events, UInt32(options.ringBufferBytes))
        if r != 0 { throw CaptureError.mapFailed(map: "events", errno: -r) }

        let features = KernelFeatures.probe()
        features.select(in: obj)
        try features.setFlags(in: obj)
        Log.info("capture", "kernel features", features.logFields)

        let lr = bpf_object__load(obj)
        if lr != 0 {
            let prog = LibBPFLog.failedProgram()
            throw CaptureError.loadFailed(path: path, program: prog, errno: -lr,
                                          log: LibBPFLog.verifierTail(), fullLog: LibBPFLog.saveFullLog(program: prog))
        }
        LibBPFLog.clear()
        func fd(_ name: String) throws -> Int32 {
            guard let m = bpf_object__find_map_by_name(obj, name) else { throw CaptureError.mapFailed(map: name, errno: ENOENT) }
            let f = bpf_map__fd(m)
            if f < 0 { throw CaptureError.mapFailed(map: name, errno: -f) }
            return f
        }
        eventsFD = try fd("events")
        selectFD = try fd(VIGIL_SELECT_SECTION)
        kstatsFD = try fd("kstats")
        possibleCPUs = max(1, Int(libbpf_num_possible_cpus()))

        kernelConfig = vigil_config(agent_tgid: UInt32(getpid()), ignore_agent: options.ignoreSelf ? 1 : 0,
                                    max_args_bytes: UInt32(options.maxArgsBytes), wakeup_mask: options.wakeupMask,
                                    max_env_bytes: 0, wakeup_bytes: UInt32(clamping: options.resolvedWakeupBytes))
        try applyInterest(options.interest)

        // Attach every program.
        var prog = bpf_object__next_program(obj, nil)
        while let p = prog {
            if !bpf_program__autoload(p) {  // a variant for another kernel (KernelFeatures.select)
                prog = bpf_object__next_program(obj, p)
                continue
            }
            let name = String(cString: bpf_program__name(p))
            guard let link = bpf_program__attach(p) else {
                let e = errno
                for l in links { bpf_link__destroy(l) }
                links = []
                throw CaptureError.attachFailed(program: name, errno: e, log: LibBPFLog.tail(10))
            }
            links.append(link)
            prog = bpf_object__next_program(obj, p)
        }
        Log.info("capture", "BPF programs attached", [("object", path), ("programs", String(links.count)),
                                                       ("ring_bytes", String(options.ringBufferBytes))])
    }

    deinit {
        stop()
        for l in links { bpf_link__destroy(l) }
        if let object { bpf_object__close(object) }
    }

    // MARK: interest

    /// Sets which event types the kernel emits (hot: takes effect for the next syscall).
    /// `execve`/`execveat` select exec records, any of `clone`/`clone3`/`fork`/`vfork`
    /// selects fork records, `procexit` selects exit records. Failed calls of the types in
    /// ``KernelInterest/dropFailed`` are dropped in the kernel (counted in
    /// ``KernelStats/filteredFailed``); a set literal of types drops nothing.
    package func setInterest(_ interest: KernelInterest) throws {
        try lock.withLock { _ in try applyInterest(interest) }
    }

    /// Environment bytes the exec program copies now (0: off; see ``EventType/environmentCapture``).
    package var environmentBytes: Int { lock.withLock { _ in Int(kernelConfig.max_env_bytes) } }

    /// The event types currently selected, and whose failures are dropped.
    package var interest: KernelInterest { interestState.withLock { $0 } }

    /// Writes the selection data (syscall numbers, event types, configuration) for `interest`
    /// into the object's global section in one map update.
    private func applyInterest(_ interest: KernelInterest) throws {
        let types = interest.types
        // The environment is copied at exec only while asked for (a loaded rule uses proc.env).
        let envBytes = types.contains(.environmentCapture) ? UInt32(options.maxEnvBytes) : 0
        if configWritten && envBytes != kernelConfig.max_env_bytes || !configWritten && envBytes != 0 {
            Log.info("capture", envBytes != 0 ? "environment capture on (a loaded rule reads proc.env)" : "environment capture off",
                     [("max_env_bytes", String(envBytes))])
        }
        var cfg = kernelConfig
        cfg.max_env_bytes = envBytes
        let sel = KernelSelection(interest: interest, config: cfg, previousPaths: failedPathSlots)
        func write(_ s: KernelSelection) throws {
            var zero: UInt32 = 0
            let e = s.bytes().withUnsafeBytes { bpf_map_update_elem(selectFD, &zero, $0.baseAddress, UInt64(BPF_ANY)) }
            if e != 0 { throw CaptureError.mapFailed(map: VIGIL_SELECT_SECTION, errno: -e) }
        }
        // The map update is a copy the programs may read half-done: a path enters its slot while
        // no type filters by path, and the filters go on in a second write.
        if sel.filtersFailedPaths && sel.addsPaths(to: failedPathSlots) { try write(sel.sendingEveryFailure) }
        try write(sel)
        failedPathSlots = sel.failedPath
        kernelConfig = cfg
        configWritten = true
        interestState.withLock { $0 = interest }
    }

    // MARK: reading

    /// Starts a reader thread named `vigil-capture` that passes every record to `consumer`
    /// (on that thread) until ``stop()``.
    package func start<C: RecordConsumer>(_ consumer: C) throws {
        let reader = try prepare(consumer)
        do {
            let t = try NamedThread.start(name: "vigil-capture") { reader.run() }
            readerThread.withLock { $0 = t }
        } catch {
            throw CaptureError.invalidState("cannot start the reader thread: \(error)")
        }
    }

    /// Reads on the calling thread, passing every record to `consumer`, until ``stop()``
    /// (from another thread) has detached the programs and the ring is drained; the
    /// consumer's `finish()` is called before it returns.
    package func run<C: RecordConsumer>(_ consumer: C) throws {
        try prepare(consumer).run()
    }

    /// Checks the capture can start once and builds the ring reader for `consumer`.
    private func prepare<C: RecordConsumer>(_ consumer: C) throws -> RingReader {
        guard started.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            throw CaptureError.invalidState("the capture was already started")
        }
        let sink: RingSinkBase = RingSink(consumer: consumer, counter: counter)
        return try RingReader(eventsFD: eventsFD, sink: sink, counter: counter, control: control,
                              pollMs: Int32(options.pollIntervalMs))
    }

    var isStopping: Bool { control.stopRequested }

    /// Stops cleanly: detaches the programs (no new events), lets the reader drain
    /// what is in the ring, calls the consumer's `finish()`, and joins a thread started
    /// by ``start(_:)`` (``run(_:)`` returns on its own thread). Safe to call more than
    /// once and from any thread.
    package func stop() {
        if stopped.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged {
            lock.withLock { _ in
                for l in links { bpf_link__destroy(l) }
                links = []
            }
            control.requestStop()
        }
        readerThread.withLock { t -> NamedThread? in let v = t; t = nil; return v }?.join()
    }

    // MARK: stats

    /// Counters: records by type and kind, decode errors, kernel-side drops.
    package func stats() -> CaptureStats {
        var s = counter.snapshot()
        s.kernel = kernelStats()
        return s
    }

    /// The kernel's per-CPU counters, summed.
    package func kernelStats() -> KernelStats {
        var k = KernelStats()
        var values = [UInt64](repeating: 0, count: possibleCPUs)
        func read(_ idx: vigil_kstat) -> UInt64 {
            var key = idx.rawValue
            let r = values.withUnsafeMutableBytes { bpf_map_lookup_elem(kstatsFD, &key, $0.baseAddress) }
            return r == 0 ? values.reduce(0, &+) : 0
        }
        k.submitted = read(VIGIL_KSTAT_SUBMITTED)
        k.ringFull = read(VIGIL_KSTAT_RING_FULL)
        k.truncated = read(VIGIL_KSTAT_TRUNCATED)
        k.readFailed = read(VIGIL_KSTAT_READ_FAILED)
        k.filteredFailed = read(VIGIL_KSTAT_FILTERED_FAILED)
        k.filteredFailedPath = read(VIGIL_KSTAT_FILTERED_FAILED_PATH)
        return k
    }

    // MARK: environment checks

    /// Capability numbers and names vigil needs when it is not root.
    static let neededCapabilities: [(Int, String)] = [(39, "CAP_BPF"), (38, "CAP_PERFMON")]
    static let capSysAdmin = 21

    /// Throws ``CaptureError/missingCapabilities(_:)`` when the effective set lacks what loading needs.
    static func checkPrivileges() throws {
        guard let eff = effectiveCapabilities() else {
            if geteuid() != 0 { throw CaptureError.missingCapabilities(neededCapabilities.map(\.1)) }
            return
        }
        if eff & (1 << UInt64(capSysAdmin)) != 0 { return }
        let missing = neededCapabilities.filter { eff & (1 << UInt64($0.0)) == 0 }.map(\.1)
        if !missing.isEmpty { throw CaptureError.missingCapabilities(missing + ["(or CAP_SYS_ADMIN)"]) }
    }

    /// CapEff from /proc/self/status.
    static func effectiveCapabilities() -> UInt64? {
        guard let f = fopen("/proc/self/status", "r") else { return nil }
        defer { fclose(f) }
        var line = [CChar](repeating: 0, count: 512)
        while fgets(&line, Int32(line.count), f) != nil {
            let s = cString(line)
            if s.hasPrefix("CapEff:") {
                let hex = s.dropFirst(7).trimmingCharacters()
                return UInt64(hex, radix: 16)
            }
        }
        return nil
    }

    /// Mounts tracefs at /sys/kernel/tracing when it is not mounted. Vigil's programs
    /// attach to BTF tracepoints and do not need it, but tools and the kernel's
    /// tracepoint interface do; failure is logged with the command to run.
    static func ensureTracefs() {
        if access("/sys/kernel/tracing/events", F_OK) == 0 { return }
        if mount("nodev", "/sys/kernel/tracing", "tracefs", 0, nil) == 0 {
            Log.info("capture", "mounted tracefs", [("path", "/sys/kernel/tracing")])
            return
        }
        Log.warning("capture", "tracefs is not mounted and could not be mounted",
                    [("error", errnoText(errno)), ("fix", "run as root: mount -t tracefs nodev /sys/kernel/tracing")])
    }
}

/// Non-generic base of the ring callback's target: validates and counts, then
/// hands the record to the generic subclass (one class-method dispatch, no existential).
class RingSinkBase {
    let counter: RecordCounter
    /// Most records handled in one `ring_buffer__consume` call. libbpf 1.1's consume
    /// loops while the producer keeps writing, so without a bound a consumer slower
    /// than the kernel would never get to the end of a batch (no batch flush, no
    /// published counters, no readiness).
    static let batchLimit = 8192
    /// Returned from the callback to end a batch at ``batchLimit``.
    static let batchFull: Int32 = -ECANCELED
    private(set) var inBatch = 0
    init(counter: RecordCounter) { self.counter = counter }

    @inline(__always)
    final func handle(_ p: UnsafeRawPointer, _ size: Int) -> Int32 {
        if let e = counter.admit(UnsafeRawBufferPointer(start: p, count: size), fromRing: true) { deliver(e) }
        inBatch += 1
        if inBatch >= Self.batchLimit { inBatch = 0; return Self.batchFull }
        return 0
    }
    /// Starts counting a new batch.
    final func resetBatch() { inBatch = 0 }
    func deliver(_ event: Event) {}
    func endOfBatch() {}
    func idle() {}
    func finish() {}
}

final class RingSink<C: RecordConsumer>: RingSinkBase {
    let consumer: C
    /// ``consumer`` for the per-record call (kept alive by it): no retain per record.
    private let consumerRef: Unmanaged<C>
    init(consumer: C, counter: RecordCounter) {
        self.consumer = consumer
        self.consumerRef = .passUnretained(consumer)
        super.init(counter: counter)
    }
    override func deliver(_ event: Event) { consumerRef._withUnsafeGuaranteedRef { $0.consume(event) } }
    override func endOfBatch() { consumer.endOfBatch() }
    override func idle() { consumer.idle() }
    override func finish() { consumer.finish() }
}

/// What the capture and its reader share: the stop request (an atomic flag).
final class ReaderControl: Sendable {
    private let stopping = Atomic<Bool>(false)
    /// Whether ``requestStop()`` was called.
    var stopRequested: Bool { stopping.load(ordering: .acquiring) }
    /// Asks the reader to drain and return.
    func requestStop() { stopping.store(true, ordering: .releasing) }
    /// Upper bound on the reader's poll interval in ms (lowered while rules enforce from user space).
    let pollCap = Atomic<Int32>(Int32.max)
}

/// The ring-buffer reader: owns the libbpf ring and its callback target for one run.
/// Holds no reference to the ``BPFCapture`` (the maps it reads stay open while the
/// capture lives, and the capture joins a reader thread before it closes them).
final class RingReader: @unchecked Sendable {
    // @unchecked: built on one thread, then used only by the thread that runs it.
    private let ring: OpaquePointer
    private let sink: RingSinkBase
    private let sinkRef: Unmanaged<RingSinkBase>
    private let counter: RecordCounter
    private let control: ReaderControl
    private let pollMs: Int32
    /// The ring map's fd (for the reader's own edge-triggered epoll instance).
    private let ringFD: Int32

    init(eventsFD: Int32, sink: RingSinkBase, counter: RecordCounter, control: ReaderControl, pollMs: Int32) throws {
        let ref = Unmanaged.passRetained(sink)
        guard let rb = ring_buffer__new(eventsFD, { ctx, data, size in
            guard let ctx, let data else { return 0 }
            // A negative return makes libbpf stop this consume call after the record
            // (which stays consumed): it bounds a batch under sustained load.
            // The reader keeps the sink alive (`sinkRef`): no retain per record.
            return Unmanaged<RingSinkBase>.fromOpaque(ctx)._withUnsafeGuaranteedRef { $0.handle(UnsafeRawPointer(data), Int(size)) }
        }, ref.toOpaque(), nil) else {
            let e = errno
            ref.release()
            throw CaptureError.ringBufferFailed(errno: e)
        }
        self.ring = rb; self.sink = sink; self.sinkRef = ref; self.counter = counter; self.control = control; self.pollMs = pollMs
        self.ringFD = eventsFD
    }

    deinit {
        ring_buffer__free(ring)
        sinkRef.release()
    }

    /// An epoll instance watching the ring edge-triggered (`EPOLLIN | EPOLLET`): its wait ends
    /// only at a new wake-up from the kernel side, not while records merely wait unread
    /// (libbpf's own epoll instance is level-triggered). -1 when it could not be made (the reader
    /// then waits on libbpf's, as it always could).
    private static func edgeTriggeredEpoll(ringFD: Int32) -> Int32 {
        let fd = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard fd >= 0 else { return -1 }
        var ev = epoll_event()
        ev.events = EPOLLIN.rawValue | EPOLLET.rawValue
        if epoll_ctl(fd, EPOLL_CTL_ADD, ringFD, &ev) != 0 { close(fd); return -1 }
        return fd
    }

    /// Polls and drains the ring until a stop is requested, then drains what is left and finishes.
    ///
    /// Between drains the reader sleeps until the poll interval (``BPFCaptureOptions/pollIntervalMs``,
    /// the documented longest wait of a record in the ring) has passed or the kernel side wakes it
    /// (the ring holds ``BPFCaptureOptions/wakeupBytes`` unread bytes), whichever comes first,
    /// and then reads everything that gathered: one wake-up, one `ring_buffer__consume` and one
    /// end of batch (the pipeline's alert hand-off and tick) per poll interval under any steady
    /// stream (an exec storm: a few dozen records per exec, a thousand execs a second, is read in
    /// batches of a few hundred records a hundred times a second at the default 10 ms). The
    /// wait is on an edge-triggered epoll instance: libbpf's level-triggered one returns at
    /// once while any record waits unread, which made a steady stream wake the reader per
    /// record or two (the old remedy, a fixed 4 ms sleep after a small batch, still woke it
    /// 250 times a second and could not be ended by the kernel's wake-up). After a full batch
    /// (``RingSinkBase/batchLimit``) more is waiting: the reader reads again without sleeping.
    /// While rules enforce from user space (``ReaderControl/pollCap`` lowered) the reader waits
    /// on libbpf's level-triggered instance with that cap, for the kill latency.
    func run() {
        let levelFD = ring_buffer__epoll_fd(ring)
        let edgeFD = ringFD >= 0 ? Self.edgeTriggeredEpoll(ringFD: ringFD) : -1
        defer { if edgeFD >= 0 { close(edgeFD) } }
        var ev = epoll_event()
        var morePending = false
        while !control.stopRequested {
            // After a full batch more data is waiting: consume again without sleeping.
            var woke: Int32 = 1
            if !morePending {
                let cap = control.pollCap.load(ordering: .relaxed)
                if cap == Int32.max && edgeFD >= 0 {
                    woke = epoll_wait(edgeFD, &ev, 1, pollMs)
                } else {
                    woke = epoll_wait(levelFD, &ev, 1, min(pollMs, cap))
                }
            }
            sink.resetBatch()
            let n = ring_buffer__consume(ring)
            morePending = n == RingSinkBase.batchFull
            if n > 0 || morePending {
                sink.endOfBatch()
                counter.publish()
            } else if n < 0 && n != -EINTR {
                Log.error("capture", "ring buffer read failed", [("error", errnoText(-n))])
                Timestamp.sleep(milliseconds: 10)
            } else if woke == 0 {
                // A quiet ring: the poll timed out with nothing to read.
                sink.idle()
            }
        }
        // Programs are detached: drain what is left.
        while true {
            sink.resetBatch()
            let n = ring_buffer__consume(ring)
            if n == RingSinkBase.batchFull { sink.endOfBatch(); continue }
            if n <= 0 { break }
        }
        sink.endOfBatch()
        sink.finish()
        counter.publish()
    }
}

/// A NUL-terminated C buffer as a String.
func cString(_ buf: [CChar]) -> String {
    let n = buf.firstIndex(of: 0) ?? buf.count
    return String(decoding: buf.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

extension Substring {
    func trimmingCharacters() -> String {
        var s = self
        while let f = s.first, f == " " || f == "\t" || f == "\n" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\n" { s = s.dropLast() }
        return String(s)
    }
}
