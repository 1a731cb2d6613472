/// A container image reference split the way Falco's `container.image.*` fields expect.
///
/// `registry:5000/team/app:1.2@sha256:ab…` -> repository `registry:5000/team/app`, tag `1.2`,
/// digest `sha256:ab…`. Nothing is normalised: `nginx` stays `nginx` (no `docker.io/library/`).
package struct ImageReference: Sendable, Equatable {
    package var repository: String
    package var tag: String?
    package var digest: String?

    package init(repository: String, tag: String? = nil, digest: String? = nil) {
        self.repository = repository; self.tag = tag; self.digest = digest
    }

    /// Splits `reference`. Also accepts the `docker-pullable://` and `docker://` prefixes of
    /// Kubernetes `imageID` fields, and a bare `sha256:<hex>` image id (digest only).
    package init(parsing reference: String) {
        var s = Substring(reference)
        for p in ["docker-pullable://", "docker://"] where s.hasPrefix(p) { s = s.dropFirst(p.count) }
        if s.hasPrefix("sha256:") { self.init(repository: "", digest: String(s)); return }
        var digest: String?
        if let at = s.firstIndex(of: "@") {
            digest = String(s[s.index(after: at)...])
            s = s[..<at]
        }
        var tag: String?
        let lastSlash = s.lastIndex(of: "/")
        if let colon = s.lastIndex(of: ":"), lastSlash == nil || colon > lastSlash! {
            tag = String(s[s.index(after: colon)...])
            s = s[..<colon]
        }
        self.init(repository: String(s), tag: tag, digest: digest)
    }
}
