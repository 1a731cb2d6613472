import Testing
@testable import VigilRules
import VigilDecode
import VigilState

/// `proc.env[NAME]` answered from the scratch's cache of the last environment block searched
/// (``EnvLookupCache``) against the straightforward lookup (split the block, first `NAME=` entry),
/// over sequences of events that share one scratch, so that hits, misses, blocks that differ in
/// one byte, in length only, and the process's and its parent's blocks alternating all occur.
@Suite struct EnvLookupCacheTests {
    static let names = ["LD_PRELOAD", "LD_AUDIT", "A", "LD_PRELOADX", "PATH", "E"]
    static let output = names.map { "[%proc.env[\($0)]]" }.joined(separator: "|") + "#"
        + names.map { "[%proc.aenv[\($0)]]" }.joined(separator: "|")

    /// The value of the first `name=` entry of `block`, or nil: the definition, entry by entry.
    static func reference(_ block: [UInt8], _ name: String) -> [UInt8]? {
        let prefix = Array(name.utf8) + [61]
        for entry in block.split(separator: 0, omittingEmptySubsequences: true) where entry.starts(with: prefix) {
            return Array(entry.dropFirst(prefix.count))
        }
        return nil
    }

    static func expected(_ child: [UInt8], _ parent: [UInt8]) -> String {
        func show(_ v: [UInt8]?) -> String { v.map { "[" + String(decoding: $0, as: UTF8.self) + "]" } ?? "[<NA>]" }
        return names.map { show(reference(child, $0)) }.joined(separator: "|") + "#"
            + names.map { show(reference(parent, $0)) }.joined(separator: "|")
    }

    /// Environment blocks as a decoder stores them (NUL-separated; invalid UTF-8 repaired).
    static let pool: [[UInt8]] = {
        let filler = (0..<38).map { "VAR\($0)=LD_PRELOAD=not/a/name/\($0)" }
        func block(_ entries: [String]) -> [UInt8] { Array(entries.joined(separator: "\0").utf8) }
        var p: [[UInt8]] = [
            block(["LD_PRELOAD=/start.so"] + filler),                          // name at the start
            block(filler[..<19] + ["LD_PRELOAD=/middle.so"] + filler[19...]),  // in the middle
            block(filler + ["LD_AUDIT=/end.so"]),                              // at the end
            block(filler),                                                     // absent
            block(filler + ["LD_PRELOADX=/prefix-only", "LD_PRELOA=/short"]),  // a longer and a shorter name only
            block(["LD_PRELOAD=", "LD_AUDIT=", "A=", "E="] + filler),          // empty values
            block(["LD_PRELOAD=/first.so", "LD_PRELOAD=/second.so", "A=1", "A=2"]),  // duplicates: the first
            block(["A=LD_PRELOAD=/value", "XLD_PRELOAD=/x", "LD_PRELOAD"]),    // names inside values, no '='
            block(["L", "LD", "LD_PRELOAD="]),                                 // short entries, name last
            block(["LD_PRELOAD=/bad\u{FFFD}.so", "E=\u{FFFD}\u{FFFD}"]),       // repaired invalid UTF-8
            Array(String(decoding: [76, 68, 95, 65, 85, 68, 73, 84, 61, 0xff, 0xfe, 0, 69, 61, 0xc3], as: UTF8.self).utf8),
            [],                                                                // empty block
            block(["E=1"]), block(["E=2"]),                                    // short: stored inline, same length
            block(["PATH=/usr/bin", "E=x"]),
        ]
        // Same length as another block, one byte changed (the cache must compare the bytes, not the length).
        var changed = p[1]
        changed[changed.count - 1] ^= 1
        p.append(changed)
        var moved = p[0]
        moved[3] = UInt8(ascii: "X")  // "LDX..." : the name is gone, same length
        p.append(moved)
        return p
    }()

    @Test func cachedLookupsEqualTheStraightforwardLookup() throws {
        let yaml = "- rule: r\n  desc: d\n  condition: evt.type = execve and proc.env[LD_PRELOAD] exists or evt.type = execve\n  output: \"\(Self.output)\"\n  priority: WARNING\n"
        let (set, diags) = loadRules(yaml)
        #expect(errors(diags).isEmpty, "\(diags)")
        try #require(set.rules.count == 1)
        let ev = event("type: execve\nres: 0\nprocess:\n  exepath: /bin/true\n  env: [X=1]\n  parents:\n  - {exepath: /bin/sh, env: [Y=1]}")
        let child = ev.process
        let parent = try #require(ev.processes.parent(of: child))
        let scratch = set.makeScratch(hostname: "h")
        var rng = SplitMix(seed: 10)
        var hits = 0
        var lastChild: [UInt8]? = nil
        // Shared strings (one storage for every process given it, as the table shares an
        // inherited block) and fresh copies of the same bytes.
        let shared = Self.pool.map { String(decoding: $0, as: UTF8.self) }
        func string(_ k: Int, _ rng: inout SplitMix) -> String {
            rng.next() % 2 == 0 ? shared[k] : String(decoding: Self.pool[k], as: UTF8.self)
        }
        for step in 0..<3000 {
            let ck = Int(rng.next() % UInt64(Self.pool.count))
            let c = Self.pool[ck]
            // Often the same block as before (a hit), often the parent's block (alternation).
            let pk = rng.next() % 3 == 0 ? ck : Int(rng.next() % UInt64(Self.pool.count))
            if c == lastChild { hits += 1 }
            lastChild = c
            if rng.next() % 4 != 0 { child.envBlock = string(ck, &rng) }  // else the last step's string stays
            parent.envBlock = string(pk, &rng)
            child.envCaptured = true; parent.envCaptured = true
            let want = Self.expected(Array(child.envBlock.utf8), Array(parent.envBlock.utf8))
            let viaShared = ev.withContext { ctx -> String in
                #expect(set.matches(rule: 0, ctx, scratch: scratch))
                return set.alert(rule: 0, ctx, scratch: scratch).message
            }
            let fresh = set.makeScratch(hostname: "h")
            let viaFresh = ev.withContext { ctx -> String in
                _ = set.matches(rule: 0, ctx, scratch: fresh)
                return set.alert(rule: 0, ctx, scratch: fresh).message
            }
            #expect(viaShared == want, "step \(step)")
            #expect(viaFresh == want, "step \(step)")
            if viaShared != want { break }
        }
        #expect(hits > 100)  // the sequence did exercise the cache's hits
    }

    /// More names than the cache keeps: the ones beyond it are looked up uncached, still exactly.
    @Test func namesBeyondTheCacheCapacityStayExact() throws {
        let names = (0..<(EnvLookupCache.maxNames + 6)).map { "N\($0)" }
        let yaml = "- rule: r\n  desc: d\n  condition: evt.type = execve\n  output: \"" + names.map { "%proc.env[\($0)]" }.joined(separator: ",") + "\"\n  priority: WARNING\n"
        let (set, diags) = loadRules(yaml)
        #expect(errors(diags).isEmpty, "\(diags)")
        try #require(set.rules.count == 1)
        let ev = event("type: execve\nres: 0\nprocess: {exepath: /bin/true, env: [X=1]}")
        let s = set.makeScratch(hostname: "h")
        for round in 0..<4 {
            let entries = names.enumerated().filter { ($0.offset + round) % 3 != 0 }.map { "\($0.element)=v\(round)\($0.offset)" }
            ev.process.envBlock = entries.joined(separator: "\0")
            ev.process.envCaptured = true
            let want = names.enumerated().map { ($0.offset + round) % 3 != 0 ? "v\(round)\($0.offset)" : "<NA>" }.joined(separator: ",")
            for _ in 0..<2 {  // the second time from the cache where it holds the name
                let got = ev.withContext { ctx -> String in
                    _ = set.matches(rule: 0, ctx, scratch: s)
                    return set.alert(rule: 0, ctx, scratch: s).message
                }
                #expect(got == want, "round \(round)")
            }
        }
    }
}
