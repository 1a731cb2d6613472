/// One container of a pod as the API reports it (`status.containerStatuses[]`, also init and
/// ephemeral containers), joined with its spec entry.
public struct KubeContainerStatus: Sendable, Equatable {
    public var name: String
    /// Image as given in the pod spec / status (`container.image`).
    public var image: String?
    /// Resolved image id, e.g. `docker.io/library/nginx@sha256:…` (digest source).
    public var imageID: String?
    /// Container id without the runtime scheme (`containerd://` etc.); nil until started.
    public var containerID: String?
    /// The scheme of `containerID`: `containerd`, `cri-o`, `docker`.
    public var runtime: String?
    /// From the spec's `securityContext.privileged`.
    public var privileged: Bool?
    /// `state.running.startedAt`, ns since epoch.
    public var startedAtNs: UInt64?

    public init(name: String, image: String? = nil, imageID: String? = nil, containerID: String? = nil,
                runtime: String? = nil, privileged: Bool? = nil, startedAtNs: UInt64? = nil) {
        self.name = name; self.image = image; self.imageID = imageID; self.containerID = containerID
        self.runtime = runtime; self.privileged = privileged; self.startedAtNs = startedAtNs
    }
}

/// A pod from the API: the ``PodInfo`` rules read plus its containers. Immutable.
public final class KubePod: Sendable {
    public let info: PodInfo
    public let containers: [KubeContainerStatus]
    public let resourceVersion: String
    /// `status.phase`.
    public let phase: String?

    public init(info: PodInfo, containers: [KubeContainerStatus], resourceVersion: String, phase: String? = nil) {
        self.info = info; self.containers = containers; self.resourceVersion = resourceVersion; self.phase = phase
    }

    /// The status entry of container `fullID`, if the API has reported it.
    public func container(fullID: String) -> KubeContainerStatus? {
        containers.first { $0.containerID == fullID }
    }
}
