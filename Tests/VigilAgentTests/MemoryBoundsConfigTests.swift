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

    /// `process_table.exit_grace_ms` and `process_table.max_exited`: how long and how many exited
    /// processes stay resolvable (defaults: the shipped file's, 5 s and 4096).
    @Test func exitedProcessRetention() throws {
        #expect(VigilConfig().processTable.exitGraceMs == 5000 && VigilConfig().processTable.maxExited == 4096)
        let shipped = try ConfigLoader.load(path: ConfigTests.repoRoot + "/rules/vigil.yaml").config.processTable
        #expect(shipped == VigilConfig().processTable)
        let c = try ConfigLoader.load(text: "process_table:\n  exit_grace_ms: 250\n  max_exited: 0\n", origin: "t.yaml")
        #expect(c.processTable.exitGraceMs == 250 && c.processTable.maxExited == 0)
        let t = c.processTable.tableConfiguration
        #expect(t.exitGracePeriodNs == 250_000_000 && t.maxExited == 0)
        let d = VigilConfig().processTable.tableConfiguration
        #expect(d.exitGracePeriodNs == ProcessTable.Configuration().exitGracePeriodNs && d.maxExited == ProcessTable.Configuration().maxExited)
        let o = try ConfigLoader.load(text: "", origin: "o.yaml", overrides: ["process_table.exit_grace_ms=1000"])
        #expect(o.processTable.exitGraceMs == 1000)
        for (text, key, line, column, says) in [
            ("process_table:\n  exit_grace_ms: -1\n", "process_table.exit_grace_ms", 2, 18, "out of range"),
            ("process_table:\n  max_exited: 99999999999\n", "process_table.max_exited", 2, 15, "out of range"),
            ("process_table:\n  exit_grace_ms: 5s\n", "process_table.exit_grace_ms", 2, 18, "expected an integer, got '5s'"),
            ("process_table:\n  max_processes: 100\n  max_exited: [1]\n", "process_table.max_exited", 3, 15, "integer"),
            ("process_table:\n  exit_grace: 5000\n", "process_table.exit_grace", 2, 3, "unknown"),
        ] {
            do {
                _ = try ConfigLoader.load(text: text, origin: "t.yaml")
                Issue.record("accepted \(text)")
            } catch {
                #expect(error.key == key && error.source.origin == "t.yaml" && error.source.line == line
                        && error.source.column == column && error.description.contains(says), "\(error)")
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
