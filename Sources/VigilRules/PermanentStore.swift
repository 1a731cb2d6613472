#if canImport(Glibc)
import Glibc
#endif

/// Memory for the immutable data of a compiled rule set (literal bytes, hash
/// sets, patterns, compiled regexes): plain pointers, so the matcher reads it
/// without reference counting. Freed with the rule set.
final class PermanentStore: @unchecked Sendable {
    private var blocks: [UnsafeMutableRawPointer] = []
    private var regexes: [UnsafeMutablePointer<regex_t>] = []

    init() {}

    deinit {
        for r in regexes { regfree(r); r.deallocate() }
        for b in blocks { b.deallocate() }
    }

    func alloc(_ bytes: Int, alignment: Int = 16) -> UnsafeMutableRawPointer {
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 1), alignment: alignment)
        blocks.append(p)
        return p
    }

    /// Copies `a` (plus a zero terminator element) and returns a stable pointer.
    func copy<T>(_ a: [T]) -> UnsafePointer<T> {
        let p = alloc(MemoryLayout<T>.stride * (a.count + 1), alignment: max(MemoryLayout<T>.alignment, 8))
        memset(p, 0, MemoryLayout<T>.stride * (a.count + 1))
        let t = p.bindMemory(to: T.self, capacity: a.count + 1)
        for (k, v) in a.enumerated() { (t + k).initialize(to: v) }
        return UnsafePointer(t)
    }

    /// Bytes of `s`, NUL terminated.
    func bytes(_ b: [UInt8]) -> UnsafePointer<UInt8> { copy(b) }

    func store<T>(_ v: T) -> UnsafeRawPointer { UnsafeRawPointer(copy([v])) }

    func adopt(_ r: UnsafeMutablePointer<regex_t>) { regexes.append(r) }
}
