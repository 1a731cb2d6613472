import Testing
@testable import VigilAgent
import VigilCore

/// The sizes that bound the agent's memory. The ring: 8 MiB by default, `capture.ring_buffer_bytes`,
/// or Falco's `engine.modern_ebpf.buf_size_preset` (both given and different: an error naming the
/// place). The process table: Falco's `falco_libs.thread_table_size`, `process_table.max_fds_per_process`.
@Suite struct MemoryBoundsConfigTests {
    @Test func defaultIsFalcosDefaultBuffer() throws {
        #expect(VigilConfig().capture.ringBufferBytes == 8 << 20)
        #expect(try ConfigLoader.load(text: "", origin: "d.yaml").capture.ringBufferBytes == 8 << 20)
    }

    @Test func falcoPresetSetsTheRing() throws {
        let table = [(1, 1 << 20), (2, 2 << 20), (3, 4 << 20), (4, 8 << 20), (5, 16 << 20), (10, 512 << 20)]
        for (preset, bytes) in table {
            let c = try ConfigLoader.load(text: "engine:\n  modern_ebpf:\n    buf_size_preset: \(preset)\n", origin: "p.yaml")
            #expect(c.capture.ringBufferBytes == bytes, "preset \(preset)")
        }
        // The same size given both ways is fine; so is an override on the command line.
        let same = try ConfigLoader.load(text: "capture: {ring_buffer_bytes: 16Mi}\nengine: {modern_ebpf: {buf_size_preset: 5}}\n", origin: "s.yaml")
        #expect(same.capture.ringBufferBytes == 16 << 20)
        let o = try ConfigLoader.load(text: "", origin: "o.yaml", overrides: ["engine.modern_ebpf.buf_size_preset=3"])
        #expect(o.capture.ringBufferBytes == 4 << 20)
    }

    @Test func contradictionAndRangeAreErrors() {
        do {
            _ = try ConfigLoader.load(text: "capture:\n  ring_buffer_bytes: 16Mi\nengine: {modern_ebpf: {buf_size_preset: 4}}\n", origin: "c.yaml")
            Issue.record("accepted a ring size contradicting the preset")
        } catch {
            #expect(error.key == "capture.ring_buffer_bytes" && error.source.line == 2, "\(error)")
            #expect("\(error)".contains("buf_size_preset 4"), "\(error)")
        }
        do {
            _ = try ConfigLoader.load(text: "engine:\n  modern_ebpf:\n    buf_size_preset: 11\n", origin: "r.yaml")
            Issue.record("accepted preset 11")
        } catch {
            #expect(error.key == "engine.modern_ebpf.buf_size_preset" && error.source.line == 3, "\(error)")
        }
    }

    @Test func processTableLimits() throws {
        #expect(VigilConfig().processTable == .init(maxProcesses: 131_072, maxFDsPerProcess: 4096))
        let c = try ConfigLoader.load(text: "falco_libs:\n  thread_table_size: 5000\nprocess_table:\n  max_fds_per_process: 64\n", origin: "t.yaml")
        #expect(c.processTable.maxProcesses == 5000 && c.processTable.maxFDsPerProcess == 64)
        do {
            _ = try ConfigLoader.load(text: "falco_libs:\n  thread_table_size: 3\n", origin: "t.yaml")
            Issue.record("accepted a 3-entry process table")
        } catch {
            #expect(error.key == "falco_libs.thread_table_size" && error.source.line == 2, "\(error)")
        }
    }
}
