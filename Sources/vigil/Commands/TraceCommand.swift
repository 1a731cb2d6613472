#if canImport(Glibc)
import Glibc
#endif
import VigilABI
import VigilCapture
import VigilCore
import VigilDecode
import VigilRules
import VigilState

/// `vigil trace`: prints every captured event as one JSON object per line.
enum TraceCommand: Command {
    static let name = "trace"
    static let summary = "Print captured events as JSON lines (live, or from a capture file)"

    static let usage = """
    Usage: vigil trace [--kinds K[,K...]] [--write FILE] [--read FILE] [--max-args N]
                       [--env N] [--ring-bytes N] [--include-self] [--count-only] [--no-state]
                       [--comm NAME]

    Loads Vigil's BPF programs and prints one JSON object per captured event on
    stdout, keys named like rule fields (evt.type, evt.time, evt.res, proc.pid,
    proc.exepath, proc.args, fd.name, fd.sip, ...). A process table seeded from
    /proc and kept by exec/fork/exit events fills proc.* for every event. Stops cleanly on SIGINT or
    SIGTERM (detach, drain the ring, flush) and prints one final line on stderr:
    {"stats": {"events_received": {...}, "kernel_drops": N, "decode_errors": N, ...}}

    Options:
      --kinds K,...     event types to capture: Falco names (openat, execve, connect,
                        procexit, ...) or groups: open, exec, fork, exit, file, network,
                        process, privilege. Default: everything.
      --write FILE      record raw events into a capture file instead of printing
      --read FILE       print events from a capture file instead of the kernel
      --max-args N      argv bytes captured per exec (1-\(VIGIL_ARGS_MAX), default \(VIGIL_ARGS_DEFAULT))
      --env N           copy up to N bytes of each new program's environment (1-\(VIGIL_ENV_MAX)):
                        proc.env in exec events (default: not copied)
      --ring-bytes N    BPF ring buffer size (power of two, default 16777216)
      --include-self    also capture vigil's own events
      --count-only      decode and count events (and keep the process table) without printing them
      --no-state        no process table: print only what each record carries
      --comm NAME       print only events of threads whose comm is NAME (stats count everything)
      -h, --help        show this help
    """

    /// `--kinds` groups, from vigil_abi.h's syscall table.
    static let groups: [String: Set<EventType>] = EventTable.groups

    /// exec, fork and exit: what the process lifecycle needs.
    static let lifecycleTypes: Set<EventType> = EventTable.types(withState: VIGIL_STATE_PROCESS)
    /// Everything the process table needs to stay current (fds, cwd, credentials too), whatever
    /// `--kinds` prints: the same set the agent always subscribes to.
    static let stateTypes: Set<EventType> = EventTable.types(withState: VIGIL_STATE_ALWAYS)

    /// Parses `--kinds` values into event types; nil with a message on an unknown name.
    static func parseKinds(_ list: String) -> (Set<EventType>?, String?) {
        var out = Set<EventType>()
        for raw in list.split(separator: ",") {
            let k = raw.trimmedSpaces()
            if k.isEmpty { continue }
            if let g = groups[k] { out.formUnion(g); continue }
            guard let t = EventType(name: k) else {
                return (nil, "vigil trace: --kinds: unknown event type '\(k)' (known: \(groups.keys.sorted().joined(separator: ", ")), or a Falco event type name such as openat)")
            }
            out.insert(t)
        }
        if out.isEmpty { return (nil, "vigil trace: --kinds: no event types given") }
        return (out, nil)
    }

    static func run(_ args: [String]) -> Int32 {
        var kinds: Set<EventType>?
        var writePath: String?
        var readPath: String?
        var options = BPFCaptureOptions()
        var countOnly = false
        var noState = false
        var envCapture = false
        var comm: [UInt8]?
        var i = 0
        func value(_ flag: String) -> String? {
            guard i + 1 < args.count else { writeStderr("vigil trace: \(flag) needs a value\n"); return nil }
            i += 1
            return args[i]
        }
        while i < args.count {
            let (a, inline) = CommandLineFlag.split(args[i])
            func val() -> String? { inline ?? value(a) }
            switch a {
            case "-h", "--help": print(usage); return 0
            case "--kinds", "-k":
                guard let v = val() else { return 2 }
                let (k, err) = parseKinds(v)
                if let err { writeStderr(err + "\n"); return 2 }
                kinds = k
            case "--write", "-w":
                guard let v = val() else { return 2 }
                writePath = v
            case "--read", "-r":
                guard let v = val() else { return 2 }
                readPath = v
            case "--max-args":
                guard let v = val() else { return 2 }
                guard let n = Int(v), n >= 1, n <= Int(VIGIL_ARGS_MAX) else {
                    writeStderr("vigil trace: --max-args: '\(v)' is not an integer between 1 and \(VIGIL_ARGS_MAX)\n"); return 2
                }
                options.maxArgsBytes = n
            case "--env":
                guard let v = val() else { return 2 }
                guard let n = Int(v), n >= 1, n <= Int(VIGIL_ENV_MAX) else {
                    writeStderr("vigil trace: --env: '\(v)' is not an integer between 1 and \(VIGIL_ENV_MAX)\n"); return 2
                }
                options.maxEnvBytes = n
                envCapture = true
            case "--ring-bytes":
                guard let v = val() else { return 2 }
                guard let n = Int(v), n >= 4096, n & (n - 1) == 0 else {
                    writeStderr("vigil trace: --ring-bytes: '\(v)' is not a power of two of at least 4096\n"); return 2
                }
                options.ringBufferBytes = n
            case "--include-self": options.ignoreSelf = false
            case "--count-only": countOnly = true
            case "--no-state": noState = true
            case "--comm":
                guard let v = val() else { return 2 }
                guard !v.isEmpty, v.utf8.count <= 15 else {
                    writeStderr("vigil trace: --comm: '\(v)' must be 1 to 15 bytes (the kernel's comm)\n"); return 2
                }
                comm = Array(v.utf8)
            default:
                writeStderr("vigil trace: unknown option '\(args[i])'\n\(usage)\n")
                return 2
            }
            i += 1
        }
        if writePath != nil && readPath != nil {
            writeStderr("vigil trace: --write and --read cannot be combined\n"); return 2
        }

        // SIGINT/SIGTERM are handled by a watcher thread (sigwait) that stops the source.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &set, nil)
        signal(SIGPIPE, SIG_IGN)

        let source: any RecordSource
        do {
            if let readPath {
                source = try CaptureFileSource(path: readPath)
            } else {
                // Process lifecycle events always feed the process table (printed only if asked for).
                // trace shows every event of the kinds asked for: failed calls are never dropped.
                if let kinds { options.interest = KernelInterest(types: kinds.union(noState ? lifecycleTypes : stateTypes)) }
                if envCapture { options.interest.insert(.environmentCapture) }
                source = try BPFRecordSource(options: options)
            }
        } catch {
            writeStderr("vigil trace: error: \(error)\n")
            return 1
        }
        // Waits for the first stop signal in normal thread context (never joined: it may wait forever).
        let stopOnSignal = SignalStop(source: source, set: set)
        do {
            _ = try NamedThread.start(name: "vigil-signals") { stopOnSignal.wait() }
        } catch {
            writeStderr("vigil trace: error: \(error)\n")
            return 1
        }

        var failure: String?
        var printed: UInt64 = 0
        if let writePath {
            do {
                let writer = try CaptureFileWriter(path: writePath, bootToWallOffsetNs: source.bootToWallOffsetNs)
                failure = runSource(source, writer)
                if let e = writer.error { failure = e.description }
                printed = writer.recordsWritten
            } catch {
                writeStderr("vigil trace: error: \(error)\n")
                source.stop()
                return 1
            }
        } else {
            let table = ProcessTable()
            // A live capture starts from the processes that already run; a capture file does not.
            if readPath == nil && !noState { _ = table.seedFromProc() }
            // A live capture with state also names containers and pods (as the agent does without
            // Kubernetes); a capture file's cgroup ids and pids belong to another moment.
            var enricher: ContainerEnricher?
            if readPath == nil && !noState {
                let en = ContainerEnricher(configuration: .init())
                en.start()
                enricher = en
            }
            defer { enricher?.stop() }
            let printer: TracePrinter
            do {
                printer = try TracePrinter(fd: 1, bootToWallOffsetNs: source.bootToWallOffsetNs, kinds: kinds,
                                           countOnly: countOnly, table: noState ? nil : table, comm: comm,
                                           containers: enricher.map(ContainerLookupCache.init))
            } catch {
                writeStderr("vigil trace: error: \(error)\n")
                source.stop()
                return 1
            }
            failure = runSource(source, printer)
            printed = printer.printed
        }
        printStats(source.stats(), written: printed, writing: writePath != nil)
        if let failure { writeStderr("vigil trace: error: \(failure)\n"); return 1 }
        return 0
    }

    /// Runs the source to its end (through the generic entry point, no existential in the loop).
    static func runSource<S: RecordSource, C: RecordConsumer>(_ source: S, _ consumer: C) -> String? {
        do { try source.run(consumer); return nil } catch { return "\(error)" }
    }

    static func runSource<C: RecordConsumer>(_ source: any RecordSource, _ consumer: C) -> String? {
        func open<S: RecordSource>(_ s: S) -> String? { runSource(s, consumer) }
        return open(source)
    }

    static func printStats(_ s: CaptureStats, written: UInt64, writing: Bool) {
        let w = JSONWriter(capacity: 512)
        w.beginObject()
        w.key("stats")
        w.beginObject()
        w.key("events_received")
        w.beginObject()
        for (name, n) in s.recordsByTypeName { w.key(string: name); w.uint(n) }
        w.endObject()
        w.key("events_total"); w.uint(s.records)
        w.key(writing ? "events_written" : "events_printed"); w.uint(written)
        w.key("kernel_drops"); w.uint(s.kernelDrops)
        w.key("decode_errors"); w.uint(s.decodeErrors)
        w.key("bytes"); w.uint(s.bytes)
        w.key("kernel")
        w.beginObject()
        w.key("submitted"); w.uint(s.kernel.submitted)
        w.key("ring_full"); w.uint(s.kernel.ringFull)
        w.key("truncated"); w.uint(s.kernel.truncated)
        w.key("read_failed"); w.uint(s.kernel.readFailed)
        w.key("filtered_failed"); w.uint(s.kernel.filteredFailed)
        w.key("filtered_failed_path"); w.uint(s.kernel.filteredFailedPath)
        w.endObject()
        w.endObject()
        w.endObject()
        writeStderr(w.text + "\n")
    }
}

/// Prints events as JSON lines, buffered; flushed per batch. With a process table, every
/// rule field it prints (``EventJSONRenderer/ruleFieldKeys``: `proc.*`, `fd.*`, `container.*`)
/// comes from the rules' own extractor, computed once per event: trace shows what rules see.
final class TracePrinter: RecordConsumer {
    let fd: Int32
    var renderer: EventJSONRenderer
    let wanted: [Bool]?
    let countOnly: Bool
    var out: [UInt8] = []
    var printed: UInt64 = 0
    var writeFailed = false
    let table: ProcessTable?
    let comm: [UInt8]?
    /// The rule fields printed from state, their extraction cache and the container lookup (live only).
    let fields: FieldList?
    let scratch: RuleScratch?
    let containers: ContainerLookupCache?

    init(fd: Int32, bootToWallOffsetNs: UInt64, kinds: Set<EventType>?, countOnly: Bool, table: ProcessTable?,
         comm: [UInt8]? = nil, containers: ContainerLookupCache? = nil) throws(FieldListError) {
        self.fd = fd
        self.comm = comm
        self.table = table
        self.containers = containers
        renderer = EventJSONRenderer(bootToWallOffsetNs: bootToWallOffsetNs)
        if table != nil {
            let f = try FieldList(EventJSONRenderer.ruleFieldKeys + (containers != nil ? EventJSONRenderer.containerFieldKeys : []))
            fields = f
            scratch = f.makeScratch()
        } else {
            fields = nil
            scratch = nil
        }
        if let kinds {
            var w = [Bool](repeating: false, count: EventType.count)
            for k in kinds { w[Int(k.rawValue) & (EventType.count - 1)] = true }
            wanted = w
        } else {
            wanted = nil
        }
        self.countOnly = countOnly
        out.reserveCapacity(1 << 17)
    }

    func consume(_ e: Event) {
        let applied = table?.apply(e)
        let lookup = containers?.container(forCgroupID: e.cgroupID, cgroupPathHint: e.cgroupPath, pid: e.pid)
        if let wanted, !wanted[Int(e.type.rawValue) & (EventType.count - 1)] { return }
        if let comm, !e.comm.elementsEqual(comm) { return }
        printed &+= 1
        if countOnly { return }
        if let applied, let table, let fields, let scratch {
            let ctx = EventContext(event: e, applied: applied, container: lookup?.info, processes: table,
                                   wallTimeNs: e.timestampBootNs &+ renderer.bootToWallOffsetNs)
            withUnsafePointer(to: ctx) { cp in
                renderer.render(e, ruleFields: { w in fields.write(cp, scratch: scratch, to: w) }) { json in out.append(contentsOf: json) }
            }
        } else {
            renderer.render(e) { json in out.append(contentsOf: json) }
        }
        out.append(0x0A)
        if out.count >= 1 << 16 { flush() }
    }

    func endOfBatch() { flush() }
    func finish() { flush() }

    func flush() {
        guard !out.isEmpty else { return }
        if !writeFailed {
            let ok = out.withUnsafeBytes { FileDescriptorWriter.writeAll(fd, $0) }
            if !ok { writeFailed = true }
        }
        out.removeAll(keepingCapacity: true)
    }
}

extension Substring {
    func trimmedSpaces() -> String {
        var s = self
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}

/// Stops a source at the first of a set of blocked signals (`sigwait`, in normal thread context).
final class SignalStop: @unchecked Sendable {
    // @unchecked: the source's stop() is callable from any thread; `set` is only read.
    private let source: any RecordSource
    private let set: sigset_t
    init(source: any RecordSource, set: sigset_t) { self.source = source; self.set = set }
    /// Blocks until one of the signals arrives, then stops the source.
    func wait() {
        var s = set
        var sig: Int32 = 0
        sigwait(&s, &sig)
        source.stop()
    }
}
