/// A container resolved from a cgroup (`container.*` fields). Immutable: a new
/// value replaces the old one when more is learned, so it can cross threads.
package final class ContainerInfo: Sendable {
    /// 12-character short id (`container.id`), or `host`.
    package let id: String
    /// Full container id (`container.full_id`).
    package let fullID: String
    /// `containerd`, `cri-o`, `docker`, or `host`.
    package let runtime: String
    package let name: String?
    /// Image reference as given (`container.image`).
    package let image: String?
    package let imageRepository: String?
    package let imageTag: String?
    package let imageDigest: String?
    /// Start time, ns since epoch (`container.start_ts`).
    package let startTimeNs: UInt64?
    /// From the OCI spec (`container.privileged`).
    package let privileged: Bool?
    /// Pod UID from the cgroup path (dashes), when the container is in a pod.
    package let podUID: String?
    /// The pod, once known (from node-local runtime state or the API).
    package let pod: PodInfo?
    /// Bind mounts from the runtime's bundle (`container.mount*`); nil until the bundle was read.
    package let mounts: [ContainerMount]?

    package init(id: String, fullID: String, runtime: String, name: String? = nil, image: String? = nil,
                imageRepository: String? = nil, imageTag: String? = nil, imageDigest: String? = nil,
                startTimeNs: UInt64? = nil, privileged: Bool? = nil, podUID: String? = nil, pod: PodInfo? = nil,
                mounts: [ContainerMount]? = nil) {
        self.id = id; self.fullID = fullID; self.runtime = runtime; self.name = name; self.image = image
        self.imageRepository = imageRepository; self.imageTag = imageTag; self.imageDigest = imageDigest
        self.startTimeNs = startTimeNs; self.privileged = privileged; self.podUID = podUID; self.pod = pod
        self.mounts = mounts
    }

    /// The host itself (`container.id = host`).
    package static let host = ContainerInfo(id: "host", fullID: "host", runtime: "host")
}

/// A Kubernetes pod (`k8s.*` fields). Immutable.
package final class PodInfo: Sendable {
    package let name: String
    package let namespace: String
    package let uid: String
    package let labels: [String: String]
    package let annotations: [String: String]
    package let serviceAccount: String?
    package let nodeName: String?
    /// Owning workload, e.g. `Deployment`/`web` (resolved through the ReplicaSet name).
    package let workloadKind: String?
    package let workloadName: String?

    package init(name: String, namespace: String, uid: String, labels: [String: String] = [:],
                annotations: [String: String] = [:], serviceAccount: String? = nil, nodeName: String? = nil,
                workloadKind: String? = nil, workloadName: String? = nil) {
        self.name = name; self.namespace = namespace; self.uid = uid; self.labels = labels
        self.annotations = annotations; self.serviceAccount = serviceAccount; self.nodeName = nodeName
        self.workloadKind = workloadKind; self.workloadName = workloadName
    }
}
