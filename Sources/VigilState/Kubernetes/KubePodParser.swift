#if canImport(Glibc)
import Glibc
#endif
import VigilCore

/// Turns API JSON (`Pod`, `PodList`, watch events) into ``KubePod`` values.
package enum KubePodParser {
    /// A watch stream line.
    package enum WatchEvent {
        case added(KubePod), modified(KubePod), deleted(KubePod)
        /// Only the resourceVersion to resume from.
        case bookmark(String)
        /// An `ERROR` event carrying a `Status` (410 Gone: the resourceVersion is too old).
        case error(code: Int, reason: String, message: String)
    }

    package struct ParseError: Error, CustomStringConvertible {
        package let message: String
        package var description: String { message }
    }

    /// Parses a `PodList`: its pods, its resourceVersion and its `continue` token.
    package static func parseList(_ bytes: [UInt8]) throws -> (pods: [KubePod], resourceVersion: String, continueToken: String?) {
        let obj = try object(bytes, what: "PodList")
        guard let items = obj["items"] as? [Any] else {
            if obj["items"] is JSONNull { return ([], metadataRV(obj), nil) }
            throw ParseError(message: "PodList has no items array (kind: \(obj["kind"] as? String ?? "none"))")
        }
        var pods: [KubePod] = []
        for (i, item) in items.enumerated() {
            guard let p = item as? [String: Any] else { throw ParseError(message: "PodList items[\(i)] is not an object") }
            pods.append(try pod(p, path: "items[\(i)]"))
        }
        let meta = obj["metadata"] as? [String: Any]
        let cont = (meta?["continue"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        return (pods, metadataRV(obj), cont)
    }

    /// Parses one watch event line.
    package static func parseWatchEvent(_ bytes: [UInt8]) throws -> WatchEvent {
        let obj = try object(bytes, what: "watch event")
        guard let type = obj["type"] as? String else { throw ParseError(message: "watch event has no type") }
        guard let o = obj["object"] as? [String: Any] else { throw ParseError(message: "watch event \(type) has no object") }
        switch type {
        case "ADDED": return .added(try pod(o, path: "object"))
        case "MODIFIED": return .modified(try pod(o, path: "object"))
        case "DELETED": return .deleted(try pod(o, path: "object"))
        case "BOOKMARK":
            let rv = metadataRV(o)
            guard !rv.isEmpty else { throw ParseError(message: "BOOKMARK without metadata.resourceVersion") }
            return .bookmark(rv)
        case "ERROR":
            return .error(code: o["code"] as? Int ?? 0, reason: o["reason"] as? String ?? "",
                          message: o["message"] as? String ?? "")
        default: throw ParseError(message: "unknown watch event type \(type)")
        }
    }

    /// Parses one `Pod` object.
    package static func pod(_ o: [String: Any], path: String = "pod") throws -> KubePod {
        guard let meta = o["metadata"] as? [String: Any] else { throw ParseError(message: "\(path).metadata missing") }
        guard let name = meta["name"] as? String, let ns = meta["namespace"] as? String, let uid = meta["uid"] as? String else {
            throw ParseError(message: "\(path).metadata needs name, namespace and uid")
        }
        let labels = strings(meta["labels"])
        let annotations = strings(meta["annotations"])
        let spec = o["spec"] as? [String: Any] ?? [:]
        let status = o["status"] as? [String: Any] ?? [:]
        var kind: String?, wname: String?
        if let owners = meta["ownerReferences"] as? [[String: Any]] {
            let ctrl = owners.first { ($0["controller"] as? Bool) == true } ?? owners.first
            if let c = ctrl, let k = c["kind"] as? String, let n = c["name"] as? String {
                (kind, wname) = workload(ownerKind: k, ownerName: n, labels: labels)
            }
        }
        // Spec entries by name (image, privileged) joined with status entries (ids).
        var specByName: [String: (String?, Bool?)] = [:]
        for key in ["initContainers", "containers", "ephemeralContainers"] {
            for c in spec[key] as? [[String: Any]] ?? [] {
                guard let n = c["name"] as? String else { continue }
                let sc = c["securityContext"] as? [String: Any]
                specByName[n] = (c["image"] as? String, sc?["privileged"] as? Bool)
            }
        }
        var containers: [KubeContainerStatus] = []
        var seen = Set<String>()
        for key in ["initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses"] {
            for c in status[key] as? [[String: Any]] ?? [] {
                guard let n = c["name"] as? String else { continue }
                seen.insert(n)
                var st = KubeContainerStatus(name: n, image: c["image"] as? String ?? specByName[n]?.0,
                                             imageID: (c["imageID"] as? String).flatMap { $0.isEmpty ? nil : $0 },
                                             privileged: specByName[n]?.1 ?? nil)
                if let cid = c["containerID"] as? String, !cid.isEmpty {
                    if let r = cid.firstRange(of: "://") {
                        let scheme = String(cid[..<r.lowerBound])
                        st.runtime = scheme == "cri-o" || scheme == "crio" ? "cri-o" : scheme
                        st.containerID = String(cid[r.upperBound...])
                    } else { st.containerID = cid }
                }
                if let state = c["state"] as? [String: Any], let running = state["running"] as? [String: Any],
                   let started = running["startedAt"] as? String { st.startedAtNs = parseRFC3339Nanos(started) }
                containers.append(st)
            }
        }
        for (n, s) in specByName where !seen.contains(n) {
            containers.append(KubeContainerStatus(name: n, image: s.0, privileged: s.1))
        }
        let info = PodInfo(name: name, namespace: ns, uid: uid, labels: labels, annotations: annotations,
                           serviceAccount: spec["serviceAccountName"] as? String ?? spec["serviceAccount"] as? String,
                           nodeName: spec["nodeName"] as? String, workloadKind: kind, workloadName: wname)
        return KubePod(info: info, containers: containers, resourceVersion: meta["resourceVersion"] as? String ?? "",
                       phase: status["phase"] as? String)
    }

    /// The workload behind a pod's controller: a ReplicaSet named `<deployment>-<pod-template-hash>`
    /// is reported as that Deployment; a Job named `<cronjob>-<scheduled minute>` as that CronJob.
    package static func workload(ownerKind: String, ownerName: String, labels: [String: String]) -> (String, String) {
        if ownerKind == "ReplicaSet", let dash = ownerName.lastIndex(of: "-") {
            let suffix = ownerName[ownerName.index(after: dash)...]
            if let h = labels["pod-template-hash"] {
                if suffix == h { return ("Deployment", String(ownerName[..<dash])) }
            } else if (5...10).contains(suffix.count), suffix.allSatisfy({ "bcdfghjklmnpqrstvwxz2456789".contains($0) }) {
                return ("Deployment", String(ownerName[..<dash]))
            }
        }
        if ownerKind == "Job", let dash = ownerName.lastIndex(of: "-") {
            let suffix = ownerName[ownerName.index(after: dash)...]
            if suffix.count >= 8, suffix.allSatisfy(\.isASCII), suffix.allSatisfy(\.isNumber) { return ("CronJob", String(ownerName[..<dash])) }
        }
        return (ownerKind, ownerName)
    }

    static func object(_ bytes: [UInt8], what: String) throws -> [String: Any] {
        let any: Any
        do { any = try JSONTreeParser.parse(bytes) } catch {
            let head = String(decoding: bytes.prefix(80), as: UTF8.self)
            throw ParseError(message: "\(what) is not valid JSON (starts \(head.debugDescription))")
        }
        guard let o = any as? [String: Any] else { throw ParseError(message: "\(what) is not a JSON object") }
        return o
    }

    static func metadataRV(_ o: [String: Any]) -> String { (o["metadata"] as? [String: Any])?["resourceVersion"] as? String ?? "" }

    static func strings(_ any: Any?) -> [String: String] {
        guard let d = any as? [String: Any] else { return [:] }
        var out: [String: String] = [:]
        for (k, v) in d { if let s = v as? String { out[k] = s } }
        return out
    }
}
