#if canImport(Glibc)
import Glibc
#endif
import VigilCore

/// What a container runtime's own on-disk state says about one container (no API needed).
package struct RuntimeContainerMetadata: Sendable, Equatable {
    /// `containerd`, `cri-o`, `docker` or `podman`.
    package var runtime: String
    package var containerID: String
    /// Kubernetes container name (`container.name`).
    package var containerName: String?
    /// Image as the user asked for it (`container.image`).
    package var image: String?
    /// `container` or `sandbox` (the pod's pause container).
    package var containerType: String?
    package var podName: String?
    package var podNamespace: String?
    package var podUID: String?
    package var sandboxID: String?
    /// From the OCI spec; see ``RuntimeMetadataStore/isPrivileged(spec:)``.
    package var privileged: Bool?
    /// Container start, ns since the epoch.
    package var startTimeNs: UInt64?
    /// Pod labels when the runtime records them (CRI-O does; containerd's bundle does not).
    package var podLabels: [String: String]
    /// Where this came from (for messages).
    package var source: String
    /// Bind mounts from the bundle's OCI `mounts` (Docker: `MountPoints`), in order.
    package var mounts: [ContainerMount]

    package init(runtime: String, containerID: String, containerName: String? = nil, image: String? = nil,
                containerType: String? = nil, podName: String? = nil, podNamespace: String? = nil,
                podUID: String? = nil, sandboxID: String? = nil, privileged: Bool? = nil,
                startTimeNs: UInt64? = nil, podLabels: [String: String] = [:], source: String = "",
                mounts: [ContainerMount] = []) {
        self.runtime = runtime; self.containerID = containerID; self.containerName = containerName
        self.image = image; self.containerType = containerType; self.podName = podName
        self.podNamespace = podNamespace; self.podUID = podUID; self.sandboxID = sandboxID
        self.privileged = privileged; self.startTimeNs = startTimeNs; self.podLabels = podLabels; self.source = source
        self.mounts = mounts
    }
}

/// Errors reading runtime state (each names the file).
package struct RuntimeMetadataError: Error, CustomStringConvertible, Sendable {
    package let path: String
    package let reason: String
    package var description: String { "\(path): \(reason)" }
}

/// Reads container metadata from the container runtimes' state on this node.
///
/// - containerd: the per-task OCI bundle `<root>/<id>/config.json`, root by default
///   `/run/containerd/io.containerd.runtime.v2.task/k8s.io`. Annotations used:
///   `io.kubernetes.cri.container-type`, `container-name`, `image-name`, `sandbox-name`,
///   `sandbox-namespace`, `sandbox-uid`, `sandbox-id`. Start time: the bundle's `config.json` mtime
///   (containerd writes the bundle when it creates the task).
/// - CRI-O: `<root>/<id>/userdata/config.json`, root by default
///   `/run/containers/storage/overlay-containers` (run dir) then `/var/lib/containers/storage/overlay-containers`
///   (storage dir; CRI-O writes `config.json` in both). Annotations used: `io.kubernetes.pod.name`,
///   `io.kubernetes.pod.namespace`, `io.kubernetes.pod.uid`, `io.kubernetes.container.name`
///   (directly or inside the JSON of `io.kubernetes.cri-o.Labels`), `io.kubernetes.cri-o.ImageName`
///   (else `io.kubernetes.cri-o.Image`), `io.kubernetes.cri-o.ContainerType`,
///   `io.kubernetes.cri-o.SandboxID`, `io.kubernetes.cri-o.Created` (RFC 3339; else the file's mtime).
/// - podman: the same `<root>/<id>/userdata/config.json` as CRI-O (podman and CRI-O share
///   containers/storage), told apart by the annotation `io.container.manager: libpod`; the name and
///   image come from containers/storage's `<root>/containers.json` (the container's `metadata`:
///   `name`, `image-name`), the start time from `io.kubernetes.cri-o.Created`, privileged from
///   `io.podman.annotations.privileged`. Podman writes `config.json` when the container starts.
/// - Docker: `<root>/<id>/config.v2.json` and `hostconfig.json`, root by default
///   `/var/lib/docker/containers` (name, image, `Created`, `HostConfig.Privileged`, dockershim labels).
///
/// Mounts (`container.mount*`): the bind mounts of the OCI spec's `mounts` (containerd, CRI-O,
/// podman), Docker's `MountPoints`; see ``ContainerMount``.
///
/// Roots are configurable because node images may mount the runtime state elsewhere.
package struct RuntimeMetadataStore: Sendable {
    package var containerdRoots: [String]
    package var crioRoots: [String]
    /// Docker's container directories (`<root>/<id>/config.v2.json`, `hostconfig.json`).
    package var dockerRoots: [String]

    package static let defaultContainerdRoots = ["/run/containerd/io.containerd.runtime.v2.task/k8s.io"]
    package static let defaultCRIORoots = ["/run/containers/storage/overlay-containers", "/var/lib/containers/storage/overlay-containers"]
    package static let defaultDockerRoots = ["/var/lib/docker/containers"]

    package init(containerdRoots: [String] = defaultContainerdRoots, crioRoots: [String] = defaultCRIORoots,
                dockerRoots: [String] = defaultDockerRoots) {
        self.containerdRoots = containerdRoots
        self.crioRoots = crioRoots
        self.dockerRoots = dockerRoots
    }

    /// Looks `id` up, trying the runtime the cgroup named first (`runtimeHint`), then the others.
    /// Returns nil when no runtime has state for it; throws when state exists but cannot be parsed.
    package func lookup(containerID id: String, runtimeHint: String? = nil) throws -> RuntimeContainerMetadata? {
        guard CgroupPathParser.isHexID(Substring(id)) else { return nil } // never build paths from odd ids
        let order: [String]
        switch runtimeHint {
        case "cri-o", "podman": order = ["cri-o", "containerd", "docker"]
        case "docker": order = ["docker", "containerd", "cri-o"]
        default: order = ["containerd", "cri-o", "docker"]
        }
        for runtime in order {
            if runtime == "docker" {
                for root in dockerRoots {
                    let path = root + "/" + id + "/config.v2.json"
                    if let bytes = readFileBytes(path) {
                        let host = readFileBytes(root + "/" + id + "/hostconfig.json")
                        return try Self.parseDocker(bytes, hostConfig: host, id: id, path: path)
                    }
                }
            } else if runtime == "containerd" {
                for root in containerdRoots {
                    let path = root + "/" + id + "/config.json"
                    if let bytes = readFileBytes(path) { return try Self.parseContainerd(bytes, id: id, path: path, mtimeNs: Self.mtimeNs(path)) }
                }
            } else {
                for root in crioRoots {
                    let path = root + "/" + id + "/userdata/config.json"
                    guard let bytes = readFileBytes(path) else { continue }
                    let spec = try Self.jsonObject(bytes, path: path)
                    if Self.annotations(spec)["io.container.manager"] == "libpod" {
                        // containers.json sits in the storage root, next to the container directories.
                        let indexes = [root] + crioRoots.filter { $0 != root }
                        let index = indexes.lazy.compactMap { r -> (String, [UInt8])? in
                            let p = r + "/containers.json"
                            return readFileBytes(p).map { (p, $0) }
                        }.first
                        return try Self.parsePodman(spec: spec, containersJSON: index?.1, id: id, path: path,
                                                    indexPath: index?.0 ?? root + "/containers.json", mtimeNs: Self.mtimeNs(path))
                    }
                    return try Self.parseCRIO(bytes, id: id, path: path, mtimeNs: Self.mtimeNs(path))
                }
            }
        }
        return nil
    }

    /// Parses a containerd task bundle's OCI `config.json`.
    package static func parseContainerd(_ bytes: [UInt8], id: String, path: String, mtimeNs: UInt64?) throws -> RuntimeContainerMetadata {
        let spec = try jsonObject(bytes, path: path)
        let a = annotations(spec)
        return RuntimeContainerMetadata(
            runtime: "containerd", containerID: id,
            containerName: a["io.kubernetes.cri.container-name"],
            image: a["io.kubernetes.cri.image-name"],
            containerType: a["io.kubernetes.cri.container-type"],
            podName: a["io.kubernetes.cri.sandbox-name"],
            podNamespace: a["io.kubernetes.cri.sandbox-namespace"],
            podUID: a["io.kubernetes.cri.sandbox-uid"],
            sandboxID: a["io.kubernetes.cri.sandbox-id"],
            privileged: isPrivileged(spec: spec),
            startTimeNs: mtimeNs, source: path, mounts: ContainerMount.fromOCISpec(spec))
    }

    /// Parses a CRI-O container's `userdata/config.json`.
    package static func parseCRIO(_ bytes: [UInt8], id: String, path: String, mtimeNs: UInt64?) throws -> RuntimeContainerMetadata {
        let spec = try jsonObject(bytes, path: path)
        let a = annotations(spec)
        var labels: [String: String] = [:]
        if let l = a["io.kubernetes.cri-o.Labels"], let obj = try? JSONTreeParser.parse(l) as? [String: Any] {
            for (k, v) in obj { if let s = v as? String { labels[k] = s } }
        }
        func pick(_ keys: String...) -> String? {
            for k in keys { if let v = a[k], !v.isEmpty { return v }; if let v = labels[k], !v.isEmpty { return v } }
            return nil
        }
        var podLabels = labels
        for k in labels.keys where k.hasPrefix("io.kubernetes.") { podLabels.removeValue(forKey: k) }
        let created = a["io.kubernetes.cri-o.Created"].flatMap(parseRFC3339Nanos)
        return RuntimeContainerMetadata(
            runtime: "cri-o", containerID: id,
            containerName: pick("io.kubernetes.container.name"),
            image: pick("io.kubernetes.cri-o.ImageName", "io.kubernetes.cri-o.Image"),
            containerType: pick("io.kubernetes.cri-o.ContainerType"),
            podName: pick("io.kubernetes.pod.name"),
            podNamespace: pick("io.kubernetes.pod.namespace"),
            podUID: pick("io.kubernetes.pod.uid"),
            sandboxID: pick("io.kubernetes.cri-o.SandboxID"),
            privileged: isPrivileged(spec: spec),
            startTimeNs: created ?? mtimeNs,
            podLabels: a["io.kubernetes.cri-o.ContainerType"] == "sandbox" ? podLabels : [:],
            source: path, mounts: ContainerMount.fromOCISpec(spec))
    }

    /// Parses a podman container: its OCI spec (`userdata/config.json`) and, when readable, its
    /// record in containers/storage's `containers.json` (name and image as the user gave them).
    /// A missing record leaves name and image empty; an unparsable index throws naming `indexPath`.
    package static func parsePodman(spec: [String: Any], containersJSON: [UInt8]?, id: String, path: String,
                                   indexPath: String, mtimeNs: UInt64?) throws -> RuntimeContainerMetadata {
        let a = annotations(spec)
        var name: String?
        var image: String?
        var createdNs: UInt64?
        if let bytes = containersJSON {
            let parsed: Any
            do { parsed = try JSONTreeParser.parse(bytes) } catch {
                throw RuntimeMetadataError(path: indexPath, reason: "invalid JSON (\(error))")
            }
            guard let records = parsed as? [[String: Any]] else { throw RuntimeMetadataError(path: indexPath, reason: "not a JSON array of containers") }
            if let record = records.first(where: { $0["id"] as? String == id }) {
                if let m = record["metadata"] as? String, let meta = try? JSONTreeParser.parse(m) as? [String: Any] {
                    name = meta["name"] as? String
                    image = meta["image-name"] as? String
                    if let t = meta["created-at"] as? Int, t > 0 { createdNs = UInt64(t) * 1_000_000_000 }
                }
                if name == nil, let names = record["names"] as? [String] { name = names.first }
                if createdNs == nil, let c = record["created"] as? String { createdNs = parseRFC3339Nanos(c) }
            }
        }
        var privileged = isPrivileged(spec: spec)
        if let p = a["io.podman.annotations.privileged"] { privileged = p.uppercased() == "TRUE" }
        return RuntimeContainerMetadata(
            runtime: "podman", containerID: id, containerName: name, image: image, containerType: "container",
            privileged: privileged,
            startTimeNs: a["io.kubernetes.cri-o.Created"].flatMap(parseRFC3339Nanos) ?? createdNs ?? mtimeNs,
            source: path, mounts: ContainerMount.fromOCISpec(spec))
    }

    /// Parses Docker's `config.v2.json` (name, image, creation time, labels; with dockershim /
    /// cri-dockerd the `io.kubernetes.*` labels name the pod) and `hostconfig.json` (`Privileged`).
    package static func parseDocker(_ bytes: [UInt8], hostConfig: [UInt8]?, id: String, path: String) throws -> RuntimeContainerMetadata {
        let obj = try jsonObject(bytes, path: path)
        let config = obj["Config"] as? [String: Any] ?? [:]
        var labels: [String: String] = [:]
        if let l = config["Labels"] as? [String: Any] { for (k, v) in l { if let s = v as? String { labels[k] = s } } }
        var privileged: Bool?
        if let h = hostConfig, let ho = try? jsonObject(h, path: path) { privileged = ho["Privileged"] as? Bool }
        var name = labels["io.kubernetes.container.name"]
        if name == nil, let n = obj["Name"] as? String { name = n.hasPrefix("/") ? String(n.dropFirst()) : n }
        return RuntimeContainerMetadata(
            runtime: "docker", containerID: id, containerName: name, image: config["Image"] as? String,
            containerType: labels["io.kubernetes.docker.type"],
            podName: labels["io.kubernetes.pod.name"], podNamespace: labels["io.kubernetes.pod.namespace"],
            podUID: labels["io.kubernetes.pod.uid"], sandboxID: labels["io.kubernetes.sandbox.id"],
            privileged: privileged, startTimeNs: (obj["Created"] as? String).flatMap(parseRFC3339Nanos),
            source: path, mounts: ContainerMount.fromDockerMountPoints(obj["MountPoints"] as? [String: Any] ?? [:]))
    }

    /// Vigil's definition of `container.privileged` from an OCI runtime spec.
    ///
    /// Kubernetes' `securityContext.privileged: true` makes both containerd and CRI-O
    /// (1) grant every capability and (2) drop the masked and read-only `/proc` paths.
    /// A container is privileged when its bounding set holds `CAP_SYS_ADMIN` and
    /// `linux.maskedPaths` and `linux.readonlyPaths` are both empty or absent. Merely adding
    /// `CAP_SYS_ADMIN` keeps the masked paths, so it does not count. Returns nil when the
    /// spec has no `process` section to judge by.
    package static func isPrivileged(spec: [String: Any]) -> Bool? {
        guard let process = spec["process"] as? [String: Any] else { return nil }
        let caps = process["capabilities"] as? [String: Any]
        let bounding = caps?["bounding"] as? [String] ?? []
        let linux = spec["linux"] as? [String: Any] ?? [:]
        let masked = linux["maskedPaths"] as? [Any] ?? []
        let readonly = linux["readonlyPaths"] as? [Any] ?? []
        return bounding.contains("CAP_SYS_ADMIN") && masked.isEmpty && readonly.isEmpty
    }

    static func jsonObject(_ bytes: [UInt8], path: String) throws -> [String: Any] {
        let parsed: Any
        do { parsed = try JSONTreeParser.parse(bytes) } catch {
            throw RuntimeMetadataError(path: path, reason: "invalid JSON (\(error))")
        }
        guard let obj = parsed as? [String: Any] else { throw RuntimeMetadataError(path: path, reason: "not a JSON object") }
        return obj
    }

    static func annotations(_ spec: [String: Any]) -> [String: String] {
        var out: [String: String] = [:]
        if let a = spec["annotations"] as? [String: Any] { for (k, v) in a { if let s = v as? String { out[k] = s } } }
        return out
    }

    static func mtimeNs(_ path: String) -> UInt64? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return UInt64(st.st_mtim.tv_sec) &* 1_000_000_000 &+ UInt64(st.st_mtim.tv_nsec)
    }
}

/// Parses `2024-05-01T12:34:56.123456789Z` or with a `+hh:mm` offset into ns since the epoch.
func parseRFC3339Nanos(_ s: String) -> UInt64? {
    let b = Array(s.utf8)
    guard b.count >= 20 else { return nil }
    func num(_ from: Int, _ len: Int) -> Int? {
        guard from + len <= b.count else { return nil }
        var v = 0
        for i in from..<(from + len) { guard b[i] >= 48, b[i] <= 57 else { return nil }; v = v * 10 + Int(b[i] - 48) }
        return v
    }
    guard let y = num(0, 4), let mo = num(5, 2), let d = num(8, 2), let h = num(11, 2), let mi = num(14, 2), let se = num(17, 2),
          b[4] == 45, b[7] == 45, b[10] == 84 || b[10] == 116 || b[10] == 32, (1...12).contains(mo), (1...31).contains(d) else { return nil }
    var i = 19
    var frac: UInt64 = 0
    if i < b.count, b[i] == 46 {
        i += 1
        var digits = 0
        while i < b.count, b[i] >= 48, b[i] <= 57 { if digits < 9 { frac = frac * 10 + UInt64(b[i] - 48); digits += 1 }; i += 1 }
        while digits < 9 { frac *= 10; digits += 1 }
    }
    var offset = 0
    if i < b.count, b[i] == 43 || b[i] == 45 {
        guard let oh = num(i + 1, 2), let om = num(i + 4, 2) else { return nil }
        offset = (oh * 3600 + om * 60) * (b[i] == 43 ? 1 : -1)
    } else if i >= b.count || (b[i] != 90 && b[i] != 122) { return nil }
    // Days from civil (Howard Hinnant's algorithm).
    let yy = mo <= 2 ? y - 1 : y
    let era = (yy >= 0 ? yy : yy - 399) / 400
    let yoe = yy - era * 400
    let doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    let days = era * 146097 + doe - 719468
    let secs = days * 86400 + h * 3600 + mi * 60 + se - offset
    guard secs >= 0 else { return nil }
    return UInt64(secs) * 1_000_000_000 + frac
}
