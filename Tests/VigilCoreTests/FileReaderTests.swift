#if canImport(Glibc)
import Glibc
#endif
import Testing
import VigilCore

@Suite struct FileReaderTests {
    func tempDir() -> String {
        var t = Array("/tmp/vigil-filereader-XXXXXX".utf8CString)
        return t.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }
    func write(_ path: String, _ bytes: [UInt8]) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        precondition(fd >= 0)
        bytes.withUnsafeBytes { _ = Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    @Test func readsRegularFilesWhole() throws {
        let d = tempDir()
        let bytes = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        write(d + "/f", bytes)
        #expect(try FileReader.read(d + "/f") == bytes)
        write(d + "/empty", [])
        #expect(try FileReader.read(d + "/empty") == [])
        #expect(try FileReader.readText(d + "/f", limit: 10, truncate: true).utf8.count <= 30)
        #expect(try FileReader.read(d + "/f", limit: 10, truncate: true) == Array(bytes[0..<10]))
    }

    @Test func sizeLimitNamesFileAndLimit() {
        let d = tempDir()
        write(d + "/big", [UInt8](repeating: 65, count: 2 << 20))
        do { _ = try FileReader.read(d + "/big", limit: 1 << 20); Issue.record("read past the limit") } catch {
            #expect(error.description == "\(d)/big: file is 2097152 bytes, larger than the limit of 1 MiB")
        }
        #expect(throws: FileReadError.self) { try FileReader.read(d + "/big", limit: (2 << 20) - 1) }
        #expect((try? FileReader.read(d + "/big", limit: 2 << 20))?.count == 2 << 20)
    }

    /// procfs files report size 0: they are read up to the limit.
    @Test func procfsFiles() throws {
        let status = try FileReader.readText("/proc/self/status")
        #expect(status.hasPrefix("Name:"))
        #expect(FileReader.contents("/proc/self/status", limit: 5) == Array("Name:".utf8))
        #expect(throws: FileReadError.self) { try FileReader.read("/proc/self/status", limit: 5) }
    }

    @Test func devicesAndDirectoriesAreRefused() {
        for (path, kind) in [("/dev/zero", "a character device"), ("/dev/null", "a character device"), ("/tmp", "a directory")] {
            do { _ = try FileReader.read(path); Issue.record("read \(path)") } catch {
                #expect(error.description == "\(path): not a regular file (\(kind)); Vigil reads only regular files")
            }
        }
        do { _ = try FileReader.read("/nonexistent/x") } catch {
            #expect(error.description == "/nonexistent/x: cannot open: No such file or directory")
            #expect(error.errno == ENOENT)
        }
    }

    /// A FIFO with no writer would block a plain open forever; the reader refuses it at once.
    @Test func fifoIsRefusedWithoutBlocking() {
        let d = tempDir()
        #expect(mkfifo(d + "/fifo", 0o600) == 0)
        do { _ = try FileReader.read(d + "/fifo"); Issue.record("read a FIFO") } catch {
            #expect(error.message == "not a regular file (a FIFO); Vigil reads only regular files")
        }
        #expect(FileReader.contents(d + "/fifo") == nil)
    }

    @Test func symlinkToRegularFileIsFollowed() throws {
        let d = tempDir()
        write(d + "/target", Array("hello".utf8))
        #expect(symlink(d + "/target", d + "/link") == 0)
        #expect(try FileReader.readText(d + "/link") == "hello")
        #expect(symlink("/dev/zero", d + "/zero") == 0)
        #expect(throws: FileReadError.self) { try FileReader.read(d + "/zero") }
    }

    @Test func sizeText() {
        #expect(FileReader.sizeText(16 << 20) == "16 MiB")
        #expect(FileReader.sizeText(64 << 10) == "64 KiB")
        #expect(FileReader.sizeText(1000) == "1000 bytes")
    }
}
