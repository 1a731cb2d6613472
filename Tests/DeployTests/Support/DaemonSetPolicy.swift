/// The least-privilege policy Vigil's DaemonSet must meet, as a checker that lists every violation.
enum DaemonSetPolicy {
    /// Capabilities the agent may add (after dropping ALL), and why.
    static let allowedCapabilities: [String: String] = [
        "BPF": "bpf(): maps, program load, BTF",
        "PERFMON": "attach tracepoints (perf_event_open), tracing helpers",
        "SYS_PTRACE": "read /proc/PID/exe, cwd, fd of other users' processes",
        "DAC_READ_SEARCH": "search other users' /proc/PID/fd and runtime state",
        "SYS_RESOURCE": "RLIMIT_MEMLOCK on kernels 5.8-5.10 (opt-in)",
        "KILL": "enforcement kills from user space (opt-in: enforcement.mode=enforce)",
    ]
    /// What the default manifest adds: exactly these.
    static let defaultCapabilities: Set<String> = ["BPF", "PERFMON", "SYS_PTRACE", "DAC_READ_SEARCH"]

    /// Host paths the agent may mount, read-only, and why.
    static let readOnlyHostPaths: [String: String] = [
        "/sys/kernel/btf": "kernel BTF for CO-RE relocations",
        "/sys/kernel/tracing": "tracepoint ids for attaching",
        "/sys/fs/cgroup": "cgroup id to kubelet cgroup path to container and pod",
        "/run/containerd/io.containerd.runtime.v2.task": "containerd OCI bundles (pod, container, image)",
        "/var/lib/containers/storage/overlay-containers": "CRI-O per-container state",
        "/dev/log": "the syslog daemon's socket (syslog output only)",
    ]
    /// Host paths the agent may mount writable, and why (only when the caller allows them).
    static let writableHostPaths: [String: String] = [
        "/var/log/vigil": "file_output's directory (file output only)",
    ]

    static func normalizeCapability(_ c: String) -> String {
        let u = c.uppercased()
        return u.hasPrefix("CAP_") ? String(u.dropFirst(4)) : u
    }

    /// The capabilities the (single) agent container adds, normalized (no CAP_ prefix).
    static func addedCapabilities(_ ds: JSON) -> Set<String> {
        let c = ds["spec"]["template"]["spec"]["containers"][0]
        return Set(c["securityContext"]["capabilities"]["add"].array.compactMap(\.string).map(normalizeCapability))
    }

    /// Every way `ds` departs from the policy; empty when it meets it.
    /// `writableAllowed`: host paths from `writableHostPaths` that this configuration turns on.
    static func violations(_ ds: JSON, writableAllowed: Set<String> = []) -> [String] {
        var v: [String] = []
        guard ds["kind"].string == "DaemonSet" else { return ["not a DaemonSet"] }
        let pod = ds["spec"]["template"]["spec"]
        if pod["hostPID"].bool != true { v.append("hostPID must be true (host PIDs, /proc of the host PID namespace)") }
        if pod["hostNetwork"].bool == true { v.append("hostNetwork must not be set") }
        if pod["hostIPC"].bool == true { v.append("hostIPC must not be set") }
        if pod["securityContext"]["privileged"].bool == true { v.append("pod: privileged") }

        let podSeccomp = pod["securityContext"]["seccompProfile"]["type"].string
        let containers = pod["containers"].array + pod["initContainers"].array + pod["ephemeralContainers"].array
        if containers.isEmpty { v.append("no containers") }
        for c in containers {
            let name = c["name"].string ?? "?"
            let sc = c["securityContext"]
            if sc["privileged"].bool != false { v.append("\(name): privileged must be false (explicitly)") }
            if sc["allowPrivilegeEscalation"].bool != false { v.append("\(name): allowPrivilegeEscalation must be false") }
            if sc["readOnlyRootFilesystem"].bool != true { v.append("\(name): readOnlyRootFilesystem must be true") }
            let drop = sc["capabilities"]["drop"].array.compactMap(\.string).map(normalizeCapability)
            if drop != ["ALL"] { v.append("\(name): capabilities.drop must be [ALL], is \(drop)") }
            for cap in sc["capabilities"]["add"].array.compactMap(\.string).map(normalizeCapability)
            where allowedCapabilities[cap] == nil {
                v.append("\(name): capability \(cap) is not in the allowed list")
            }
            let seccomp = sc["seccompProfile"]["type"].string ?? podSeccomp
            if seccomp != "RuntimeDefault" && seccomp != "Localhost" {
                v.append("\(name): seccomp profile must be RuntimeDefault or Localhost, is \(seccomp ?? "unset")")
            }
            if let apparmor = sc["appArmorProfile"]["type"].string, !["RuntimeDefault", "Localhost", "Unconfined"].contains(apparmor) {
                v.append("\(name): unknown AppArmor profile type \(apparmor)")
            }
        }

        // Volumes: every host path justified, read-only unless explicitly allowed writable.
        var volumes: [String: JSON] = [:]
        for vol in pod["volumes"].array { volumes[vol["name"].string ?? ""] = vol }
        var mounted: Set<String> = []
        for c in containers {
            let name = c["name"].string ?? "?"
            for m in c["volumeMounts"].array {
                let volName = m["name"].string ?? ""
                mounted.insert(volName)
                guard let vol = volumes[volName] else { v.append("\(name): mount of unknown volume \(volName)"); continue }
                let readOnly = m["readOnly"].bool == true
                if let prop = m["mountPropagation"].string, prop != "None" {
                    v.append("\(name): \(volName) uses mountPropagation \(prop)")
                }
                if let host = vol["hostPath"]["path"].string {
                    let path = normalize(host)
                    if readOnly {
                        if readOnlyHostPaths[path] == nil && writableHostPaths[path] == nil {
                            v.append("\(name): host path \(path) is not a justified mount")
                        }
                    } else if !(writableHostPaths[path] != nil && writableAllowed.contains(path)) {
                        v.append("\(name): host path \(path) is mounted writable")
                    }
                } else if vol["emptyDir"].isNull && !readOnly {
                    v.append("\(name): volume \(volName) is mounted writable (only emptyDir may be)")
                }
            }
        }
        for (volName, vol) in volumes where !vol["hostPath"].isNull && !mounted.contains(volName) {
            v.append("host path volume \(volName) is declared but not mounted")
        }

        // Operations: the rest of the issue's list.
        let agent = pod["containers"][0]
        let nodeName = agent["env"].array.first { $0["name"].string == "NODE_NAME" }
        if nodeName?["valueFrom"]["fieldRef"]["fieldPath"].string != "spec.nodeName" {
            v.append("NODE_NAME must come from the downward API (spec.nodeName)")
        }
        let port = metricsPort(agent)
        if port == nil { v.append("webserver.listen_port is not set on the command line") }
        for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
            let get = agent[probe]["httpGet"]
            if get["path"].string != path { v.append("\(probe) must GET \(path)") }
            if containerPort(agent, get["port"]) != port { v.append("\(probe) port is not webserver.listen_port") }
        }
        if pod["priorityClassName"].string != "system-node-critical" { v.append("priorityClassName must be system-node-critical") }
        let tolerateAll = pod["tolerations"].array.contains { $0["operator"].string == "Exists" && $0["key"].isNull && $0["effect"].isNull }
        if !tolerateAll { v.append("tolerations must include {operator: Exists} (every node)") }
        let strategy = ds["spec"]["updateStrategy"]
        if strategy["type"].string != "RollingUpdate" || strategy["rollingUpdate"]["maxUnavailable"].isNull {
            v.append("updateStrategy must be RollingUpdate with maxUnavailable")
        }
        if (pod["terminationGracePeriodSeconds"].int ?? 30) < 30 { v.append("terminationGracePeriodSeconds below 30") }
        let res = agent["resources"]
        for (k, path) in [("requests.cpu", res["requests"]["cpu"]), ("requests.memory", res["requests"]["memory"]),
                          ("limits.memory", res["limits"]["memory"])] where path.isNull {
            v.append("resources.\(k) must be set")
        }
        let args = agent["args"].array.compactMap(\.string)
        if !args.contains("stdout_output.enabled=true") { v.append("alerts must go to stdout (-o stdout_output.enabled=true)") }
        return v
    }

    /// The `-o webserver.listen_port=N` value.
    static func metricsPort(_ container: JSON) -> Int? {
        let args = container["args"].array.compactMap(\.string)
        for a in args where a.hasPrefix("webserver.listen_port=") { return Int(a.dropFirst("webserver.listen_port=".count)) }
        return nil
    }

    /// A probe's port (number or container port name) as a number.
    static func containerPort(_ container: JSON, _ port: JSON) -> Int? {
        if let n = port.int { return n }
        guard let name = port.string else { return nil }
        return container["ports"].array.first { $0["name"].string == name }?["containerPort"].int
    }

    static func normalize(_ p: String) -> String {
        var s = p
        while s.count > 1 && s.hasSuffix("/") { s.removeLast() }
        return s
    }
}
