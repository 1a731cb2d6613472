/// The Kubernetes QoS class a pod's cgroup sits under.
package enum PodQoSClass: String, Sendable {
    case guaranteed, burstable, besteffort
}

/// What a cgroup path says about its container, before any runtime or API lookup.
package struct ContainerIdentity: Sendable, Equatable, Hashable {
    /// `containerd`, `cri-o`, `docker`, `podman`, or `unknown` (cgroupfs driver: the path
    /// carries a bare id, the runtime is learned from its on-disk state).
    package var runtime: String
    /// The full container id (64 hex characters for the CRI runtimes and docker).
    package var fullID: String
    /// Pod UID with dashes, when the cgroup is under `kubepods`.
    package var podUID: String?
    /// The pod's QoS class, when under `kubepods`.
    package var qos: PodQoSClass?

    package init(runtime: String, fullID: String, podUID: String? = nil, qos: PodQoSClass? = nil) {
        self.runtime = runtime; self.fullID = fullID; self.podUID = podUID; self.qos = qos
    }

    /// `container.id`: the first 12 characters of the full id (as in Falco).
    package var shortID: String { String(fullID.prefix(12)) }
}

/// Maps a cgroup path to the container it belongs to.
///
/// Recognised layouts (the container's component may be followed by nested cgroups the
/// container made itself, and may be preceded by any prefix, e.g. kind's `kubelet.slice`):
///
/// | driver | path |
/// |---|---|
/// | systemd | `kubepods.slice/kubepods-<qos>.slice/kubepods-<qos>-pod<uid_with_underscores>.slice/<scope>` |
/// | systemd, guaranteed | `kubepods.slice/kubepods-pod<uid_>.slice/<scope>` |
/// | cgroupfs | `kubepods/<qos>/pod<uid>/<id>`, guaranteed `kubepods/pod<uid>/<id>` |
/// | docker (no k8s) | `system.slice/docker-<id>.scope`, `docker/<id>` |
/// | podman (no k8s) | `machine.slice/libpod-<id>.scope` (systemd), `libpod_parent/libpod-<id>` (cgroupfs) |
///
/// where `<scope>` is `cri-containerd-<id>.scope` (containerd), `crio-<id>.scope` (CRI-O),
/// `docker-<id>.scope` (dockershim / cri-dockerd) or `libpod-<id>.scope` (podman).
/// `crio-conmon-<id>.scope` is CRI-O's monitor process, not the container: it reads as host.
package enum CgroupPathParser {
    /// Parses `path` (absolute or relative to the cgroup root). Returns nil for a host cgroup.
    package static func parse(_ path: String) -> ContainerIdentity? {
        let comps = path.split(separator: "/")
        if comps.isEmpty { return nil }
        var podUID: String?
        var qos: PodQoSClass?
        var inKubepods = false
        var result: ContainerIdentity?
        for (i, c) in comps.enumerated() {
            // Pod and QoS levels.
            if c == "kubepods.slice" || c == "kubepods" { inKubepods = true; continue }
            if inKubepods {
                if let (q, uid) = podSlice(c) {
                    if let q { qos = q }
                    if let uid { podUID = uid }
                    if uid != nil || q != nil { continue }
                }
                if c == "burstable" { qos = .burstable; continue }
                if c == "besteffort" { qos = .besteffort; continue }
                if c.hasPrefix("pod"), let uid = normalizeUID(c.dropFirst(3)) { podUID = uid; if qos == nil { qos = .guaranteed }; continue }
            }
            // Container level: the first container-looking component wins (deeper ones are nested cgroups).
            if result == nil, let (runtime, id) = containerComponent(c, previous: i > 0 ? comps[i - 1] : nil, inKubepods: inKubepods && podUID != nil) {
                result = ContainerIdentity(runtime: runtime, fullID: id)
                break
            }
        }
        guard var r = result else { return nil }
        r.podUID = podUID
        r.qos = inKubepods ? (qos ?? .guaranteed) : nil
        return r
    }

    /// Parses a UTF-8 path (e.g. ``VigilDecode/Event/cgroupPath``).
    package static func parse(_ bytes: UnsafeRawBufferPointer) -> ContainerIdentity? {
        parse(String(decoding: bytes, as: UTF8.self))
    }

    /// `kubepods-<qos>.slice` -> (qos, nil); `kubepods[-<qos>]-pod<uid_>.slice` -> (qos?, uid).
    static func podSlice(_ c: Substring) -> (PodQoSClass?, String?)? {
        guard c.hasPrefix("kubepods-"), c.hasSuffix(".slice") else { return nil }
        let body = c.dropFirst("kubepods-".count).dropLast(".slice".count)
        var q: PodQoSClass?
        var rest = body
        for cls in [PodQoSClass.burstable, .besteffort, .guaranteed] {
            if rest == Substring(cls.rawValue) { return (cls, nil) }
            if rest.hasPrefix(cls.rawValue + "-") { q = cls; rest = rest.dropFirst(cls.rawValue.count + 1); break }
        }
        guard rest.hasPrefix("pod"), let uid = normalizeUID(rest.dropFirst(3)) else { return nil }
        return (q ?? .guaranteed, uid)
    }

    /// A pod UID as written in a cgroup name (dashes or underscores) -> dashed lower-case form.
    static func normalizeUID(_ s: Substring) -> String? {
        guard s.count >= 8, s.count <= 64 else { return nil }
        var out = ""
        out.reserveCapacity(s.count)
        for ch in s.unicodeScalars {
            switch ch {
            case "_", "-": out.append("-")
            case "0"..."9", "a"..."f": out.unicodeScalars.append(ch)
            case "A"..."F": out.unicodeScalars.append(Unicode.Scalar(ch.value + 32)!)
            default: return nil
            }
        }
        return out
    }

    static func isHexID(_ s: Substring) -> Bool {
        guard s.count >= 12, s.count <= 128 else { return false }
        return s.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    /// Recognises one container component: (runtime, full id).
    static func containerComponent(_ c: Substring, previous: Substring?, inKubepods: Bool) -> (String, String)? {
        if c.hasSuffix(".scope") {
            let name = c.dropLast(".scope".count)
            let prefixes: [(String, String)] = [("cri-containerd-", "containerd"), ("crio-", "cri-o"),
                                                ("docker-", "docker"), ("libpod-", "podman")]
            for (p, runtime) in prefixes where name.hasPrefix(p) {
                let id = name.dropFirst(p.count)
                if isHexID(id) { return (runtime, String(id)) }
            }
            return nil
        }
        // cgroupfs driver: a bare id under the pod directory, or docker's own /docker/<id>.
        if isHexID(c) {
            if inKubepods { return ("unknown", String(c)) }
            if previous == "docker" { return ("docker", String(c)) }
            if previous == "libpod_parent" { return ("podman", String(c)) }
        }
        // podman with the cgroupfs manager: /libpod_parent/libpod-<id> (no .scope).
        if c.hasPrefix("libpod-"), !c.hasPrefix("libpod-conmon-"), isHexID(c.dropFirst(7)) { return ("podman", String(c.dropFirst(7))) }
        // cgroupfs driver with CRI-O: crio-<id> without .scope.
        if inKubepods, c.hasPrefix("crio-"), isHexID(c.dropFirst(5)) { return ("cri-o", String(c.dropFirst(5))) }
        return nil
    }
}
