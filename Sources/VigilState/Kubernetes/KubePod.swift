/// One container of a pod as the API reports it (`status.containerStatuses[]`, also init and
/// ephemeral containers), joined with its spec entry.
package struct KubeContainerStatus: Sendable, Equatable {
    package var name: String
    /// Image as given in the pod spec / status (`container.image`).
    package var image: String?
    /// Resolved image id, e.g. `docker.io/library/nginx@sha256:…` (digest source).
    package var imageID: String?
    /// Container id without the runtime scheme (`containerd://` etc.); nil until started.
    package var containerID: String?
    /// The scheme of `containerID`: `containerd`, `cri-o`, `docker`.
    package var runtime: String?
    /// From the spec's `securityContext.privileged`.
    package var privileged: Bool?
    /// `state.running.startedAt`, ns since epoch.
    package var startedAtNs: UInt64?

    package init(name: String, image: String? = nil, imageID: String? = nil, containerID: String? = nil,
                runtime: String? = nil, privileged: Bool? = nil, startedAtNs: UInt64? = nil) {
        self.name = name; self.image = image; self.imageID = imageID; self.containerID = containerID
        self.runtime = runtime; self.privileged = privileged; self.startedAtNs = startedAtNs
    }
}

/// A pod from the API: the ``PodInfo`` rules read plus its containers. Immutable.
package final class KubePod: Sendable {
    package let info: PodInfo
    package let containers: [KubeContainerStatus]
    package let resourceVersion: String
    /// `status.phase`.
    package let phase: String?

    package init(info: PodInfo, containers: [KubeContainerStatus], resourceVersion: String, phase: String? = nil) {
        self.info = info; self.containers = containers; self.resourceVersion = resourceVersion; self.phase = phase
    }

    /// The status entry of container `fullID`, if the API has reported it.
    package func container(fullID: String) -> KubeContainerStatus? {
        containers.first { $0.containerID == fullID }
    }
}
