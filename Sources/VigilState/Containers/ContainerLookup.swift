/// The result of asking the enricher which container a cgroup belongs to.
package enum ContainerLookup: Sendable {
    /// Everything that will be known is known (host, or a container with its pod metadata).
    case known(ContainerInfo)
    /// The container is identified (id, runtime, pod UID from the cgroup path) but its
    /// name/image/pod metadata is still being fetched.
    case partial(ContainerInfo)
    /// The cgroup id has not been resolved yet; a background lookup is queued.
    case pending

    /// The container as far as it is known.
    @inline(__always) package var info: ContainerInfo? {
        switch self {
        case .known(let c), .partial(let c): c
        case .pending: nil
        }
    }

    /// Whether nothing more is expected.
    @inline(__always) package var isComplete: Bool {
        if case .known = self { return true }
        return false
    }
}

extension ContainerInfo {
    /// A cgroup that could not be resolved (it vanished before the agent looked): empty id,
    /// so rules never mistake it for the host.
    package static let unresolved = ContainerInfo(id: "", fullID: "", runtime: "")
}
