import Foundation
import VigilCore

/// What deploy/kubernetes/40-daemonset.yaml asks of the container runtime for the agent, read from
/// the manifest itself so the runtime tests translate exactly what is shipped.
struct DaemonSetSpec {
    struct HostMount {
        var name: String
        var hostPath: String
        var mountPath: String
        var readOnly: Bool
    }

    var args: [String]
    var capabilitiesDrop: [String]
    var capabilitiesAdd: [String]
    var hostPID: Bool
    var hostNetwork: Bool
    var readOnlyRootFilesystem: Bool
    var allowPrivilegeEscalation: Bool
    var privileged: Bool
    var runAsUser: Int?
    /// Pod-level `seccompProfile.type` (container-level overrides it when set).
    var seccompType: String
    var seccompLocalhostProfile: String?
    var appArmorType: String?
    var memoryLimitBytes: Int?
    var hostMounts: [HostMount]
    /// ConfigMap volumes (name, mount path): the image carries the same files (DeployTests check
    /// the ConfigMap is generated from rules/), so the runtime tests use the image's.
    var configMapMounts: [(String, String)]
    var env: [String: String]

    static let file = CT.path("deploy/kubernetes/40-daemonset.yaml")

    static func load() throws -> DaemonSetSpec {
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: file)))
        let docs: [YAMLNode]
        do { docs = try YAMLDocumentParser.parse(bytes, file: file) } catch { throw ContainerTestError("\(error)") }
        guard let ds = docs.first(where: { $0["kind"]?.scalar == "DaemonSet" }) else { throw ContainerTestError("\(file): no DaemonSet") }
        func need(_ n: YAMLNode?, _ what: String) throws -> YAMLNode {
            guard let n else { throw ContainerTestError("\(file): \(what) missing") }
            return n
        }
        let pod = try need(ds["spec"]?["template"]?["spec"], "spec.template.spec")
        guard let containers = pod["containers"]?.sequence else { throw ContainerTestError("\(file): containers missing") }
        guard let c = containers.first(where: { $0["name"]?.scalar == "vigil" }) else { throw ContainerTestError("\(file): no container 'vigil'") }
        let sc = try need(c["securityContext"], "containers[vigil].securityContext")
        let strings: (YAMLNode?) -> [String] = { $0?.sequence?.compactMap(\.scalar) ?? [] }

        var volumes: [String: YAMLNode] = [:]
        for v in pod["volumes"]?.sequence ?? [] { if let n = v["name"]?.scalar { volumes[n] = v } }
        var hostMounts: [HostMount] = []
        var configMaps: [(String, String)] = []
        for m in c["volumeMounts"]?.sequence ?? [] {
            guard let name = m["name"]?.scalar, let path = m["mountPath"]?.scalar, let v = volumes[name] else {
                throw ContainerTestError("\(file):\(m.mark.line): a volumeMount without a matching volume")
            }
            if let hp = v["hostPath"]?["path"]?.scalar {
                hostMounts.append(HostMount(name: name, hostPath: hp, mountPath: path, readOnly: m["readOnly"]?.bool ?? false))
            } else if v["configMap"] != nil {
                configMaps.append((name, path))
            } else {
                throw ContainerTestError("\(file):\(v.mark.line): volume \(name) is neither hostPath nor configMap: teach the runtime tests about it")
            }
        }
        var env: [String: String] = [:]
        for e in c["env"]?.sequence ?? [] {
            guard let n = e["name"]?.scalar else { continue }
            if let v = e["value"]?.scalar { env[n] = v }
            else if e["valueFrom"]?["fieldRef"]?["fieldPath"]?.scalar == "spec.nodeName" { env[n] = "vigil-test-node" }
        }
        let seccomp = sc["seccompProfile"] ?? pod["securityContext"]?["seccompProfile"]
        return DaemonSetSpec(
            args: strings(c["args"]),
            capabilitiesDrop: strings(sc["capabilities"]?["drop"]),
            capabilitiesAdd: strings(sc["capabilities"]?["add"]),
            hostPID: pod["hostPID"]?.bool ?? false,
            hostNetwork: pod["hostNetwork"]?.bool ?? false,
            readOnlyRootFilesystem: sc["readOnlyRootFilesystem"]?.bool ?? false,
            allowPrivilegeEscalation: sc["allowPrivilegeEscalation"]?.bool ?? true,
            privileged: sc["privileged"]?.bool ?? false,
            runAsUser: sc["runAsUser"]?.scalar.flatMap { Int($0) },
            seccompType: seccomp?["type"]?.scalar ?? "Unconfined",
            seccompLocalhostProfile: seccomp?["localhostProfile"]?.scalar,
            appArmorType: (sc["appArmorProfile"] ?? pod["securityContext"]?["appArmorProfile"])?["type"]?.scalar,
            memoryLimitBytes: c["resources"]?["limits"]?["memory"]?.scalar.flatMap(Self.quantity),
            hostMounts: hostMounts, configMapMounts: configMaps, env: env)
    }

    /// A Kubernetes memory quantity (`512Mi`, `1Gi`, `1000000`) in bytes.
    static func quantity(_ s: String) -> Int? {
        let units: [(String, Int)] = [("Ki", 1 << 10), ("Mi", 1 << 20), ("Gi", 1 << 30), ("K", 1000), ("M", 1_000_000), ("G", 1_000_000_000)]
        for (u, m) in units where s.hasSuffix(u) { return Int(s.dropLast(u.count)).map { $0 * m } }
        return Int(s)
    }

    /// Linux capability numbers (include/uapi/linux/capability.h) of the names Kubernetes uses.
    static let capabilityNumbers: [String: Int] = [
        "CHOWN": 0, "DAC_OVERRIDE": 1, "DAC_READ_SEARCH": 2, "FOWNER": 3, "FSETID": 4, "KILL": 5, "SETGID": 6,
        "SETUID": 7, "SETPCAP": 8, "LINUX_IMMUTABLE": 9, "NET_BIND_SERVICE": 10, "NET_BROADCAST": 11,
        "NET_ADMIN": 12, "NET_RAW": 13, "IPC_LOCK": 14, "IPC_OWNER": 15, "SYS_MODULE": 16, "SYS_RAWIO": 17,
        "SYS_CHROOT": 18, "SYS_PTRACE": 19, "SYS_PACCT": 20, "SYS_ADMIN": 21, "SYS_BOOT": 22, "SYS_NICE": 23,
        "SYS_RESOURCE": 24, "SYS_TIME": 25, "SYS_TTY_CONFIG": 26, "MKNOD": 27, "LEASE": 28, "AUDIT_WRITE": 29,
        "AUDIT_CONTROL": 30, "SETFCAP": 31, "MAC_OVERRIDE": 32, "MAC_ADMIN": 33, "SYSLOG": 34, "WAKE_ALARM": 35,
        "BLOCK_SUSPEND": 36, "AUDIT_READ": 37, "PERFMON": 38, "BPF": 39, "CHECKPOINT_RESTORE": 40,
    ]

    /// The effective capability mask the agent must end up with: exactly the added ones
    /// (every capability is dropped first).
    func expectedCapabilityMask() throws -> UInt64 {
        guard capabilitiesDrop == ["ALL"] else { throw ContainerTestError("\(Self.file): capabilities.drop is \(capabilitiesDrop), the tests expect [ALL]") }
        var mask: UInt64 = 0
        for c in capabilitiesAdd {
            guard let n = Self.capabilityNumbers[c] else { throw ContainerTestError("\(Self.file): unknown capability \(c)") }
            mask |= 1 << UInt64(n)
        }
        return mask
    }
}
