#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Testing
import VigilCore
@testable import VigilState

/// Objects used across threads are owned, never `unowned`: releasing one while another thread
/// still works with it (without stopping first) finishes cleanly instead of crashing.
@Suite struct OwnedLifetimeTests {
    final class Flag: Sendable { let value = Atomic<Bool>(false) }
    final class Outcome: Sendable { let text = Mutex<String?>(nil) }
    /// Hands a client (one thread at a time) to the worker; this thread does not use it afterwards.
    struct Handoff: @unchecked Sendable { let client: KubeHTTPClient }

    /// A TCP listener that accepts into its backlog and never answers.
    static func silentListener() throws -> (fd: Int32, port: UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &a) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && listen(fd, 4) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        try #require(bound)
        return (fd, UInt16(bigEndian: a.sin_port))
    }

    @Test func aKubeClientReleasedDuringATransferFinishesIt() throws {
        let (fd, port) = try Self.silentListener()
        defer { close(fd) }
        let stop = Flag(), outcome = Outcome()
        var client: KubeHTTPClient? = KubeHTTPClient(config: KubeClientConfiguration(server: "http://127.0.0.1:\(port)"),
                                                     shouldCancel: { stop.value.load(ordering: .relaxed) })
        weak let released = client
        // The transfer runs on its own thread with its own (owned) reference to the client.
        do {
            let handoff = Handoff(client: client!)
            let worker = try NamedThread.start(name: "kube-get") {
                do { _ = try handoff.client.get("/api/v1/pods", timeout: 30); outcome.text.withLock { $0 = "answered" } }
                catch { outcome.text.withLock { $0 = "\(error)" } }
            }
            // The transfer is under way once its connection waits in the listener's backlog.
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            #expect(poll(&p, 1, 10_000) == 1)
            client = nil                  // the caller lets go without stopping anything
            stop.value.store(true, ordering: .relaxed)
            worker.join()
        }
        #expect(outcome.text.withLock { $0 } == "cancelled")
        #expect(released == nil)          // gone once the transfer that held it ended
    }
}
