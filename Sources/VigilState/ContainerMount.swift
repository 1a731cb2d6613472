#if canImport(Glibc)
import Glibc
#endif

/// One mount of a container as its runtime's bundle (OCI `config.json`) declares it:
/// Falco's `container.mount*` fields.
package struct ContainerMount: Sendable, Equatable {
    /// Host path (or the runtime's source name).
    package let source: String
    /// Path inside the container.
    package let destination: String
    /// The mount's options as the bundle lists them, comma-separated (`rbind,rprivate,ro`).
    package let mode: String
    /// Read-write (no `ro` option).
    package let readWrite: Bool
    /// Propagation option (`rprivate`, `rshared`, `rslave`, ...), empty when none is named.
    package let propagation: String

    package init(source: String, destination: String, mode: String = "", readWrite: Bool = true, propagation: String = "") {
        self.source = source; self.destination = destination; self.mode = mode
        self.readWrite = readWrite; self.propagation = propagation
    }

    /// `<source>:<dest>:<mode>:<rdwr>:<propagation>`, as Falco prints a mount.
    package var falcoText: String { "\(source):\(destination):\(mode):\(readWrite ? "true" : "false"):\(propagation)" }

    static let propagationNames: Set<String> = ["shared", "rshared", "slave", "rslave", "private", "rprivate", "unbindable", "runbindable"]

    /// A mount from an OCI spec `mounts` entry (`destination`, `source`, `type`, `options`), or nil
    /// when it is not a bind mount: the runtime's own file systems (`proc`, `sysfs`, `devpts`,
    /// `mqueue`, `tmpfs`, `cgroup`, ...) are not mounts of the host's files, and Falco's runtime
    /// engines do not list them either.
    package static func fromOCI(_ m: [String: Any]) -> ContainerMount? {
        guard let dest = m["destination"] as? String, !dest.isEmpty else { return nil }
        let options = (m["options"] as? [Any] ?? []).compactMap { $0 as? String }
        let type = m["type"] as? String ?? ""
        guard type == "bind" || options.contains("bind") || options.contains("rbind") else { return nil }
        guard let source = m["source"] as? String, !source.isEmpty else { return nil }
        return ContainerMount(source: source, destination: dest, mode: options.joined(separator: ","),
                              readWrite: !options.contains("ro"),
                              propagation: options.last(where: { propagationNames.contains($0) }) ?? "")
    }

    /// The bind mounts of an OCI runtime spec, in its order.
    package static func fromOCISpec(_ spec: [String: Any]) -> [ContainerMount] {
        (spec["mounts"] as? [Any] ?? []).compactMap { ($0 as? [String: Any]).flatMap(fromOCI) }
    }

    /// Docker's `config.v2.json` `MountPoints` (keyed by destination): binds and volumes, ordered by destination.
    package static func fromDockerMountPoints(_ points: [String: Any]) -> [ContainerMount] {
        points.keys.sorted().compactMap { key -> ContainerMount? in
            guard let p = points[key] as? [String: Any] else { return nil }
            let dest = p["Destination"] as? String ?? key
            guard let source = p["Source"] as? String, !source.isEmpty else { return nil }
            return ContainerMount(source: source, destination: dest, mode: p["Mode"] as? String ?? "",
                                  readWrite: p["RW"] as? Bool ?? true, propagation: p["Propagation"] as? String ?? "")
        }
    }
}

extension Array where Element == ContainerMount {
    /// The first mount whose source matches `pattern` (a glob as fnmatch(3) without flags:
    /// `*` also crosses `/`), as Falco's `container.mount[...]`, `.dest[...]`, `.mode[...]`.
    package func first(sourceMatching pattern: String) -> ContainerMount? {
        first { fnmatch(pattern, $0.source, 0) == 0 }
    }
    /// The first mount whose destination matches `pattern` (Falco's `container.mount.source[...]`).
    package func first(destinationMatching pattern: String) -> ContainerMount? {
        first { fnmatch(pattern, $0.destination, 0) == 0 }
    }
}
