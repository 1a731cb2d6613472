// libFuzzer target: the capture-file reader and the record decoder, as `vigil trace --read`
// and `vigil run -e` use them: framing, ABI records, process-table state and JSON rendering.
#if canImport(Glibc)
import Glibc
#endif
import VigilCapture
import VigilDecode
import VigilState

final class FuzzConsumer: RecordConsumer {
    let table = ProcessTable(configuration: .init(maxProcesses: 256, maxFDsPerProcess: 64))
    var renderer = EventJSONRenderer(bootToWallOffsetNs: 0)
    var bytes = 0
    func consume(_ record: UnsafeRawBufferPointer) {
        guard case .success(let e) = Event.decode(record) else { return }
        _ = table.apply(e)
        bytes &+= renderer.render(e) { $0.count }
    }
    func endOfBatch() {}
    func idle() {}
    func finish() {}
}

/// One in-memory file (tmpfs, unlinked at once), rewritten for each input; read through /proc/self/fd.
let memfd: Int32 = {
    let path = "/dev/shm/vigil-fuzz-capture-\(getpid())"
    let fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    unlink(path)
    return fd
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCapture(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard memfd >= 0, ftruncate(memfd, 0) == 0, pwrite(memfd, data, size, 0) == size else { return 0 }
    guard let source = try? CaptureFileSource(path: "/proc/self/fd/\(memfd)") else { return 0 }
    let consumer = FuzzConsumer()
    try? source.run(consumer)
    return consumer.bytes == -1 ? 1 : 0
}
