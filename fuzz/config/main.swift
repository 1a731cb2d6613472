// libFuzzer target: the configuration file and `-o` overrides. The input is the YAML text,
// optionally followed by a NUL byte and newline-separated `key=value` overrides.
import VigilAgent

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let split = bytes.firstIndex(of: 0) ?? size
    let text = String(decoding: bytes[0..<split], as: UTF8.self)
    let overrides = split < size
        ? String(decoding: bytes[(split + 1)...], as: UTF8.self).split(separator: "\n").map(String.init)
        : []
    do {
        let config = try ConfigLoader.load(text: text, origin: "fuzz.yaml", overrides: overrides)
        return config.rulesFiles.count == -1 ? 1 : 0
    } catch {
        return error.description.isEmpty ? 1 : 0
    }
}
