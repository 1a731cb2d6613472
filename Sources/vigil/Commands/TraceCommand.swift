#if canImport(Glibc)
import Glibc
#endif
import VigilABI
import VigilCapture
import VigilCore
import VigilDecode
import VigilState

/// `vigil trace`: prints every captured event as one JSON object per line.
enum TraceCommand: Command {
    static let name = "trace"
    static let summary = "Print captured events as JSON lines (live, or from a capture file)"

    static let usage = """
    Usage: vigil trace [--kinds K[,K...]] [--write FILE] [--read FILE] [--max-args N]
                       [--ring-bytes N] [--include-self] [--count-only] [--no-state]
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
      --ring-bytes N    BPF ring buffer size (power of two, default 16777216)
      --include-self    also capture vigil's own events
      --count-only      decode and count events (and keep the process table) without printing them
      --no-state        no process table: print only what each record carries
      --comm NAME       print only events of threads whose comm is NAME (stats count everything)
      -h, --help        show this help
    """

    /// `--kinds` groups, from vigil_abi.h's syscall table.
    static let groups: [String: Set<EventType>] = EventTable.groups

    /// exec, fork and exit: what the process table needs to stay current.
    static let lifecycleTypes: Set<EventType> = EventTable.types(withState: VIGIL_STATE_PROCESS)

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
                if let kinds { options.interest = kinds.union(lifecycleTypes) }
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
            let printer = TracePrinter(fd: 1, bootToWallOffsetNs: source.bootToWallOffsetNs, kinds: kinds,
                                       countOnly: countOnly, table: noState ? nil : table, comm: comm)
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
        w.key("entry_full"); w.uint(s.kernel.entryFull)
        w.key("entry_missing"); w.uint(s.kernel.entryMissing)
        w.key("truncated"); w.uint(s.kernel.truncated)
        w.key("read_failed"); w.uint(s.kernel.readFailed)
        w.endObject()
        w.endObject()
        w.endObject()
        writeStderr(w.text + "\n")
    }
}

/// Prints events as JSON lines, buffered; flushed per batch.
final class TracePrinter: RecordConsumer {
    let fd: Int32
    var renderer: EventJSONRenderer
    let wanted: [Bool]?
    let countOnly: Bool
    var out: [UInt8] = []
    var printed: UInt64 = 0
    var decodeErrors: UInt64 = 0
    var writeFailed = false
    let table: ProcessTable?
    let comm: [UInt8]?

    init(fd: Int32, bootToWallOffsetNs: UInt64, kinds: Set<EventType>?, countOnly: Bool, table: ProcessTable?,
         comm: [UInt8]? = nil) {
        self.fd = fd
        self.comm = comm
        self.table = table
        renderer = EventJSONRenderer(bootToWallOffsetNs: bootToWallOffsetNs)
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

    func consume(_ record: UnsafeRawBufferPointer) {
        guard case .success(let e) = Event.decode(record) else { decodeErrors &+= 1; return }
        let applied = table?.apply(e)
        if let wanted, !wanted[Int(e.type.rawValue) & (EventType.count - 1)] { return }
        if let comm, !e.comm.elementsEqual(comm) { return }
        printed &+= 1
        if countOnly { return }
        if let applied, let table {
            // fd.name as the rules see it: resolved through the process table.
            renderer.render(e, fdName: applied.fd.flatMap { $0.name.isEmpty ? nil : $0.name }, extra: { w, wroteFDName in
                TracePrinter.writeState(w, e, applied, table, wroteFDName, joinCache)
            }) { json in out.append(contentsOf: json) }
        } else {
            renderer.render(e) { json in out.append(contentsOf: json) }
        }
        out.append(0x0A)
        if out.count >= 1 << 16 { flush() }
    }

    func endOfBatch() { flush() }
    func finish() { flush() }

    /// Process-table fields: for non-exec events proc.* come from the table; the
    /// parent's name and exe path for all; fd.name from the fd table when the
    /// record alone does not say it.
    /// proc.args / proc.cmdline of the last process rendered (joined once, reused while unchanged).
    final class JoinCache {
        var name = ""
        var args: [String] = []
        var joinedArgs: [UInt8] = []
        var cmdline: [UInt8] = []

        func update(_ p: ProcessInfo) {
            // Array/String equality is O(1) when the storage is shared (the common case).
            if p.args == args && p.name == name { return }
            args = p.args
            name = p.name
            joinedArgs = Array(p.args.joined(separator: " ").utf8)
            cmdline = Array(p.cmdline.utf8)
        }
    }
    let joinCache = JoinCache()

    static func writeState(_ w: JSONWriter, _ e: Event, _ r: ProcessTable.ApplyResult, _ table: ProcessTable,
                           _ wroteFDName: Bool, _ cache: JoinCache) {
        guard let p = r.process else { return }
        if !e.isExec {
            cache.update(p)
            w.key("proc.exepath"); w.string(p.exePath)
            w.key("proc.exe"); w.string(p.exe)
            w.key("proc.args"); cache.joinedArgs.withUnsafeBytes { w.string(bytes: $0) }
            w.key("proc.cmdline"); cache.cmdline.withUnsafeBytes { w.string(bytes: $0) }
            w.key("proc.cwd"); w.string(p.cwd)
        }
        if let parent = table.parent(of: p) {
            w.key("proc.pname"); w.string(parent.name)
            w.key("proc.pexepath"); w.string(parent.exePath)
        }
        if !wroteFDName, let fd = r.fd {
            w.key("fd.name"); w.string(fd.name)
            w.key("fd.typechar"); w.string(fd.kind.typeChar)
        }
    }

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
