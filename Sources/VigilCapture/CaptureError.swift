/// Why the live capture could not start or run. Every case says what is wrong
/// and what to do about it (``description``).
package enum CaptureError: Error, Sendable, CustomStringConvertible {
    /// Not root and the listed capabilities are missing from the effective set.
    case missingCapabilities([String])
    /// The kernel exposes no BTF (`/sys/kernel/btf/vmlinux`), needed for CO-RE and tp_btf.
    case btfUnavailable(path: String)
    /// No BPF object file was found; `searched` lists the places tried.
    case objectNotFound(searched: [String])
    /// libbpf could not open (parse) the object.
    case openFailed(path: String, errno: Int32, log: String)
    /// The kernel rejected a program or map at load time; `log` is the tail of libbpf's and the
    /// verifier's log (where the verifier states its reason), `fullLog` the file holding all of it.
    case loadFailed(path: String, program: String?, errno: Int32, log: String, fullLog: String?)
    /// A program could not be attached to its hook.
    case attachFailed(program: String, errno: Int32, log: String)
    /// A map is missing from the object or could not be updated.
    case mapFailed(map: String, errno: Int32)
    /// The ring-buffer reader could not be set up.
    case ringBufferFailed(errno: Int32)
    /// An option value is out of range.
    case invalidOption(String)
    /// The capture was already started or stopped.
    case invalidState(String)

    package var description: String {
        switch self {
        case .missingCapabilities(let caps):
            return "vigil needs root or the capabilities \(caps.joined(separator: ", ")) to load BPF programs "
                + "(missing from the effective set); run as root, e.g. `sudo vigil ...`, or grant them with "
                + "`setcap cap_bpf,cap_perfmon,cap_sys_resource,cap_dac_read_search+ep vigil`"
        case .btfUnavailable(let path):
            return "kernel BTF is unavailable (\(path) is missing): vigil's CO-RE programs need a kernel built with CONFIG_DEBUG_INFO_BTF=y"
        case .objectNotFound(let searched):
            return "BPF object vigil.bpf.o not found (run `make bpf`, or set VIGIL_BPF_OBJECT); searched: "
                + searched.joined(separator: ", ")
        case .openFailed(let path, let e, let log):
            return "cannot open BPF object \(path): \(errnoText(e))" + logSuffix(log)
        case .loadFailed(let path, let prog, let e, let log, let full):
            let what = prog.map { "program '\($0)'" } ?? "BPF object"
            let saved = full.map { "; full verifier log in \($0)" } ?? "; the full verifier log could not be saved"
            return "the kernel rejected \(what) from \(path): \(errnoText(e))\(saved)" + logSuffix(log)
        case .attachFailed(let prog, let e, let log):
            return "cannot attach BPF program '\(prog)': \(errnoText(e))" + logSuffix(log)
        case .mapFailed(let map, let e):
            return "BPF map '\(map)' is missing or cannot be updated: \(errnoText(e))"
        case .ringBufferFailed(let e):
            return "cannot set up the BPF ring buffer reader: \(errnoText(e))"
        case .invalidOption(let s):
            return s
        case .invalidState(let s):
            return s
        }
    }
}

func errnoText(_ e: Int32) -> String {
    let code = e < 0 ? -e : e
    guard let p = strerror(code) else { return "errno \(code)" }
    return String(cString: p) + " (errno \(code))"
}

private func logSuffix(_ log: String) -> String {
    log.isEmpty ? "" : "\n--- libbpf/verifier log (tail) ---\n" + log
}

#if canImport(Glibc)
import Glibc
#endif
