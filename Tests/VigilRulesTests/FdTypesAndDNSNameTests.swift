#if canImport(Glibc)
import Glibc
#endif
import Testing
import VigilCore
import VigilState
@testable import VigilRules

/// `fd.types` (a list field) and `fd.*ip.name` (Falco's DNS manager: names in conditions resolved
/// in the background with the system resolver).
@Suite struct FdTypesAndDNSNameTests {
    /// A connect from a process that also holds a file, a pipe and another socket.
    static func connect(_ sip: String = "127.0.0.1") -> SyntheticEvent {
        let ev = event("""
            type: connect
            res: 0
            args: {fd: 5}
            process: {pid: 777, exepath: /usr/bin/curl}
            fd: {num: 5, type: ipv4, l4proto: tcp, cip: 10.0.0.5, cport: 40000, sip: \(sip), sport: 443}
            """)
        ev.process.fds[0] = FDInfo(kind: .file, name: "/dev/null")
        ev.process.fds[1] = FDInfo(kind: .pipe, name: "pipe:[1]")
        ev.process.fds[2] = FDInfo(kind: .pipe, name: "pipe:[2]")
        return ev
    }

    @Test func fdTypesIsAListOfDistinctTypes() {
        let ev = Self.connect()
        #expect(matches("evt.type = connect and fd.types intersects (ipv4, ipv6)", ev))
        #expect(matches("evt.type = connect and fd.types in (file, pipe, ipv4)", ev))
        #expect(!matches("evt.type = connect and fd.types in (file, ipv4)", ev))      // pipe is not in the set
        #expect(!matches("evt.type = connect and fd.types intersects (unix, memfd)", ev))
        #expect(matches("evt.type = connect and fd.types exists", ev))
        // fd.types[N]: the type of fd N, as a one-item list (Falco's stable rules' commented form).
        #expect(matches("evt.type = connect and fd.types[1] in (pipe) and fd.types[5] in (ipv4, ipv6)", ev))
        #expect(!matches("evt.type = connect and fd.types[0] in (ipv4, ipv6)", ev))
        #expect(!matches("evt.type = connect and fd.types[9] intersects (file, pipe, ipv4)", ev))
    }

    @Test func fdTypesOnlyTakesListOperators() {
        let e = compileErrors("evt.type = connect and fd.types = ipv4")
        #expect(e.count == 1 && e.first?.message == "list field 'fd.types' only supports the operators in, intersects and exists", "\(e)")
        #expect(e.first?.mark.column == 37, "\(e)")
    }

    @Test func fdTypesOutputIsFalcosListForm() throws {
        let (set, diags) = loadRules("""
            - rule: r
              desc: d
              condition: evt.type = connect
              output: types=%fd.types first=%fd.types[0]
              priority: WARNING
            """)
        #expect(errors(diags).isEmpty, "\(diags)")
        let s = set.makeScratch(hostname: "h")
        let a = try #require(Self.connect().withContext { set.alert(rule: 0, $0, scratch: s) })
        #expect(a.message == "types=(file,ipv4,pipe) first=file")
        #expect(a.outputFields.first { $0.0 == "fd.types" }?.1 == .strings(["file", "ipv4", "pipe"]))
    }

    /// `localhost` resolves through /etc/hosts (the system resolver, no network needed).
    @Test func ipNameMatchesTheAddressesOfTheNamesInTheRule() async throws {
        let (set, diags) = loadRules("""
            - rule: To localhost
              desc: d
              condition: evt.type = connect and fd.sip.name in (localhost, "vigil-test-name.invalid")
              output: to %fd.sip.name (client %fd.cip.name)
              priority: WARNING
            - rule: Not to localhost
              desc: d
              condition: evt.type = connect and fd.sip.name != localhost
              output: elsewhere
              priority: WARNING
            """)
        #expect(errors(diags).isEmpty, "\(diags)")
        let cache = DNSNameCache.shared
        cache.startResolving()
        // Lookups run side by side, so a name whose DNS server is slow does not hold localhost up.
        let deadline = Timestamp.nowNanoseconds() + 60_000_000_000
        while !cache.isResolved("localhost") && Timestamp.nowNanoseconds() < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(cache.isResolved("localhost"), "localhost was not resolved within 60 s")
        #expect(cache.addresses(of: "localhost")?.contains("127.0.0.1") == true, "\(cache.addresses(of: "localhost") ?? [])")
        #expect(cache.addresses(of: "vigil-test-name.invalid") == [])   // .invalid never resolves (RFC 6761), resolved or not yet
        let s = set.makeScratch(hostname: "h")
        var fired: [String: String] = [:]
        _ = Self.connect("127.0.0.1").withContext { set.evaluate($0, scratch: s) { fired[$0.rule] = $0.message } }
        #expect(fired == ["To localhost": "to localhost (client <NA>)"])
        fired = [:]
        _ = Self.connect("192.0.2.7").withContext { set.evaluate($0, scratch: s) { fired[$0.rule] = $0.message } }
        #expect(fired.isEmpty)   // no cached name for 192.0.2.7: the field is <NA>, which matches nothing (Falco: unset)
    }

    /// Only names enabled rules can reach are resolved: a disabled rule sends no DNS query
    /// (Falco's sandbox miner-pool rules are off for that reason).
    @Test func onlyEnabledRulesNamesAreResolved() throws {
        let on = "enabled-\(getpid()).invalid", off = "disabled-\(getpid()).invalid", shared = "shared-\(getpid()).invalid"
        let (set, diags) = loadRules("""
            - macro: to_shared
              condition: fd.sip.name = \(shared)
            - rule: on
              desc: d
              condition: evt.type = connect and (fd.sip.name in (\(on)) or to_shared)
              output: o
              priority: WARNING
            - rule: off
              desc: d
              condition: evt.type = connect and (fd.sip.name = \(off) or to_shared)
              output: o
              priority: WARNING
              enabled: false
            """)
        #expect(errors(diags).isEmpty && set.rules.count == 2)
        #expect(DNSNameCache.shared.isActive(on) && DNSNameCache.shared.isActive(shared))
        #expect(!DNSNameCache.shared.isActive(off) && DNSNameCache.shared.addresses(of: off) != nil)
    }

    @Test func namesAreReleasedWithTheRuleSet() throws {
        let name = "released-\(getpid()).invalid"
        do {
            let (set, diags) = loadRules("- rule: r\n  desc: d\n  condition: evt.type = connect and fd.rip.name = \(name)\n  output: o\n  priority: WARNING\n")
            #expect(errors(diags).isEmpty && set.rules.count == 1)
            #expect(DNSNameCache.shared.addresses(of: name) != nil)
        }
        #expect(DNSNameCache.shared.addresses(of: name) == nil)
    }
}
