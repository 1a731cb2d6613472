import Testing
@testable import VigilAgent
import VigilCore
import VigilState

/// The sizes that bound the agent's memory: the ring (Falco's default buffer, 8 MiB, unless
/// `engine.modern_ebpf.buf_size_preset` says otherwise) and the process table
/// (`process_table.max_processes`, `process_table.max_fds_per_process`).
@Suite struct MemoryBoundsConfigTests {
    @Test func ringDefaultIsFalcosDefaultBuffer() throws {
        #expect(VigilConfig().engine.modernEBPF.bufSizePreset == 4)
        #expect(try ConfigLoader.load(text: "", origin: "d.yaml").engine.ringBufferBytes == 8 << 20)
        let shipped = try ConfigLoader.load(path: ConfigTests.repoRoot + "/rules/vigil.yaml")
        #expect(shipped.config.engine.ringBufferBytes == 8 << 20)
        let o = try ConfigLoader.load(text: "", origin: "o.yaml", overrides: ["engine.modern_ebpf.buf_size_preset=3"])
        #expect(o.engine.ringBufferBytes == 4 << 20)
    }

    @Test func processTableLimits() throws {
        #expect(VigilConfig().processTable == .init(maxProcesses: 131_072, maxFDsPerProcess: 4096))
        let c = try ConfigLoader.load(text: "process_table:\n  max_processes: 5000\n  max_fds_per_process: 64\n", origin: "t.yaml")
        #expect(c.processTable.maxProcesses == 5000 && c.processTable.maxFDsPerProcess == 64)
        for (text, key) in [("process_table:\n  max_processes: 3\n", "process_table.max_processes"),
                            ("process_table:\n  max_fds_per_process: 0\n", "process_table.max_fds_per_process")] {
            do {
                _ = try ConfigLoader.load(text: text, origin: "t.yaml")
                Issue.record("accepted \(text)")
            } catch {
                #expect(error.key == key && error.source.line == 2, "\(error)")
            }
        }
        #expect(Reloader.restartOnlyChanges(VigilConfig(), c).contains("process_table"))
    }

    /// The agent builds its table with the configured limits.
    @Test func agentUsesTheLimits() throws {
        let c = try ConfigLoader.load(text: "process_table:\n  max_processes: 5000\n  max_fds_per_process: 64\n", origin: "t.yaml")
        let t = c.processTable.tableConfiguration
        #expect(t.maxProcesses == 5000 && t.maxFDsPerProcess == 64)
    }
}
