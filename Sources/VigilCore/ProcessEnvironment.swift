#if canImport(Glibc)
import Glibc
#endif

/// The process environment as a dictionary (Foundation's `ProcessInfo.environment`
/// without Foundation). Read at call time; the first of duplicate names wins.
package enum ProcessEnvironment {
    package static var current: [String: String] {
        var out: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") {
                let k = String(s[..<eq])
                if out[k] == nil { out[k] = String(s[s.index(after: eq)...]) }
            }
            p += 1
        }
        return out
    }
}
