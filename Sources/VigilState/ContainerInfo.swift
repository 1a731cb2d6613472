/// A container resolved from a cgroup (`container.*` fields). Immutable: a new
/// value replaces the old one when more is learned, so it can cross threads.
public final class ContainerInfo: Sendable {
    /// 12-character short id (`container.id`), or `host`.
    public let id: String
    /// Full container id (`container.full_id`).
    public let fullID: String
    /// `containerd`, `cri-o`, `docker`, or `host`.
    public let runtime: String
    public let name: String?
    /// Image reference as given (`container.image`).
    public let image: String?
    public let imageRepository: String?
    public let imageTag: String?
    public let imageDigest: String?
    /// Start time, ns since epoch (`container.start_ts`).
    public let startTimeNs: UInt64?
    /// From the OCI spec (`container.privileged`).
    public let privileged: Bool?
    /// Pod UID from the cgroup path (dashes), when the container is in a pod.
    public let podUID: String?
    /// The pod, once known (from node-local runtime state or the API).
    public let pod: PodInfo?

    public init(id: String, fullID: String, runtime: String, name: String? = nil, image: String? = nil,
                imageRepository: String? = nil, imageTag: String? = nil, imageDigest: String? = nil,
                startTimeNs: UInt64? = nil, privileged: Bool? = nil, podUID: String? = nil, pod: PodInfo? = nil) {
        self.id = id; self.fullID = fullID; self.runtime = runtime; self.name = name; self.image = image
        self.imageRepository = imageRepository; self.imageTag = imageTag; self.imageDigest = imageDigest
        self.startTimeNs = startTimeNs; self.privileged = privileged; self.podUID = podUID; self.pod = pod
    }

    /// The host itself (`container.id = host`).
    public static let host = ContainerInfo(id: "host", fullID: "host", runtime: "host")
}

/// A Kubernetes pod (`k8s.*` fields). Immutable.
public final class PodInfo: Sendable {
    public let name: String
    public let namespace: String
    public let uid: String
    public let labels: [String: String]
    public let annotations: [String: String]
    public let serviceAccount: String?
    public let nodeName: String?
    /// Owning workload, e.g. `Deployment`/`web` (resolved through the ReplicaSet name).
    public let workloadKind: String?
    public let workloadName: String?

    public init(name: String, namespace: String, uid: String, labels: [String: String] = [:],
                annotations: [String: String] = [:], serviceAccount: String? = nil, nodeName: String? = nil,
                workloadKind: String? = nil, workloadName: String? = nil) {
        self.name = name; self.namespace = namespace; self.uid = uid; self.labels = labels
        self.annotations = annotations; self.serviceAccount = serviceAccount; self.nodeName = nodeName
        self.workloadKind = workloadKind; self.workloadName = workloadName
    }
}
