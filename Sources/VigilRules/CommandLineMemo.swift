#if canImport(Glibc)
import Glibc
#endif
import VigilState

/// `proc.cmdline` of the last process it was built for, kept between events: a process
/// makes many events (every open, close, connect) with the same command line, which would
/// otherwise be rebuilt from its name and arguments for each.
///
/// The memo is valid while the process's name is equal and its arguments are the very
/// array the memo holds (same storage): the memo keeps that array alive, so an exec that
/// changes the arguments stores a new array (copy on write) and can never reuse the
/// storage. The command line depends on nothing else.
///
/// Values returned point into an entry's buffer, which is rewritten only when a command
/// line is built, and a built one is returned from the event's arena: a value handed out for
/// an earlier event is never overwritten during the event that uses it (an event asks for
/// the command line of its own process only). One per ``RuleScratch`` (one evaluating thread).
final class CommandLineMemo {
    /// One memorised command line.
    private struct Entry {
        var name = ""
        var args: [String] = []
        var buffer: UnsafeMutablePointer<UInt8>
        var capacity = 256
        /// Length of the command line; -1 while empty.
        var length = -1
    }

    /// Entries by process id (direct-mapped: processes whose events interleave keep theirs).
    private let entries: UnsafeMutablePointer<Entry>
    private static let ways = 16

    init() {
        entries = .allocate(capacity: Self.ways)
        for k in 0..<Self.ways { (entries + k).initialize(to: Entry(buffer: .allocate(capacity: 256))) }
    }
    deinit {
        for k in 0..<Self.ways { entries[k].buffer.deallocate() }
        entries.deinitialize(count: Self.ways)
        entries.deallocate()
    }

    /// `p`'s command line (name, then the arguments, separated by spaces).
    func value(_ p: ProcessInfo, _ s: RuleScratch) -> FV {
        let args = p.args
        let name = p.name
        let e = entries + Int(p.pid & UInt32(Self.ways - 1))
        let same = args.withUnsafeBufferPointer { a in e.pointee.args.withUnsafeBufferPointer { b in a.baseAddress == b.baseAddress && a.count == b.count } }
        if e.pointee.length >= 0 && same && name == e.pointee.name { return .str(UnsafePointer(e.pointee.buffer), e.pointee.length) }
        let v = FieldExtractor.cmdline(p, s)
        let n = Int(v.len)
        if n + 1 > e.pointee.capacity {
            e.pointee.buffer.deallocate()
            e.pointee.capacity = max(n + 1, e.pointee.capacity * 2)
            e.pointee.buffer = .allocate(capacity: e.pointee.capacity)
        }
        if n > 0, let src = v.p { memcpy(e.pointee.buffer, src, n) }
        e.pointee.buffer[n] = 0
        e.pointee.length = n
        e.pointee.name = name
        e.pointee.args = args
        return v
    }
}
