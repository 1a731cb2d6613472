import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A containerd started for the tests, with its own configuration, root, state and socket
/// (nothing shared with a containerd the machine may run), stopped by ``stop()``.
final class PrivateContainerd {
    let dir: String
    /// containerd's state directory: task bundles are in `<state>/io.containerd.runtime.v2.task/<ns>/<id>`.
    let state = "/run/vigil-ct-containerd"
    var socket: String { state + "/containerd.sock" }
    var taskRoot: String { state + "/io.containerd.runtime.v2.task" }
    var logFile: String { dir + "/containerd.log" }
    private var process: pid_t?

    init() {
        dir = CT.scratch + "/containerd"
    }

    /// `ctr -n k8s.io` against this containerd.
    func ctr(_ args: [String]) -> [String] { ["ctr", "--address", socket, "--namespace", "k8s.io"] + args }

    func start() throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // The CRI plugin is not needed (the tests drive containerd through ctr, as the kubelet's CRI
        // calls would) and would want CNI; everything else is containerd's default.
        let config = """
            version = 2
            root = "\(dir)/root"
            state = "\(state)"
            disabled_plugins = ["io.containerd.grpc.v1.cri"]
            [grpc]
              address = "\(socket)"
            """
        try config.write(toFile: dir + "/config.toml", atomically: true, encoding: .utf8)
        _ = FileManager.default.createFile(atPath: logFile, contents: nil)
        let p = try CT.spawn(["containerd", "--config", dir + "/config.toml"], stdout: logFile, stderr: logFile)
        process = p
        let up = try CT.waitFor(30) { () throws -> Bool? in
            if !CT.isRunning(p) { return false }
            return try CT.run(ctr(["version"])).status == 0 ? true : nil
        }
        guard up == true else {
            let log = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
            stop()
            throw ContainerTestError("containerd did not start: \(log.suffix(1500))")
        }
    }

    /// Imports a podman/buildah image into containerd's k8s.io namespace (no registry involved).
    func importImage(_ image: String) throws {
        let archive = dir + "/" + image.replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: ":", with: "_") + ".tar"
        try? FileManager.default.removeItem(atPath: archive)
        try CT.must(["podman", "save", "--quiet", "--format", "docker-archive", "-o", archive, image])
        defer { try? FileManager.default.removeItem(atPath: archive) }
        try CT.must(ctr(["images", "import", archive]))
    }

    /// Kills and deletes a container and its task (ignores what is already gone).
    func remove(_ id: String) {
        _ = try? CT.run(ctr(["task", "kill", "--signal", "SIGTERM", id]))
        _ = CT.waitFor(15) { () -> Bool? in
            let r = try? CT.run(ctr(["task", "ls"]))
            guard let r else { return true }
            return r.stdout.split(separator: "\n").contains { $0.hasPrefix(id) && $0.contains("RUNNING") } ? nil : true
        }
        _ = try? CT.run(ctr(["task", "kill", "--signal", "SIGKILL", id]))
        _ = try? CT.run(ctr(["task", "delete", "--force", id]))
        _ = try? CT.run(ctr(["container", "delete", id]))
    }

    func stop() {
        guard let p = process else { return }
        process = nil
        kill(p, SIGTERM)
        if CT.waitFor(15, { CT.isRunning(p) ? nil : true }) == nil {
            kill(p, SIGKILL)
            _ = CT.wait(p)
        }
    }

    deinit { stop() }
}

/// A background command whose output goes to a file (`ctr events`, `podman events`).
final class BackgroundCommand {
    let pid: pid_t
    let output: String
    private var stopped = false

    init(_ argv: [String], output: String) throws {
        self.output = output
        try? FileManager.default.removeItem(atPath: output)
        pid = try CT.spawn(argv, stdout: output, stderr: output)
    }

    var text: String { (try? String(contentsOfFile: output, encoding: .utf8)) ?? "" }

    func stop() {
        if stopped { return }
        stopped = true
        kill(pid, SIGTERM)
        _ = CT.wait(pid)
    }

    deinit { stop() }
}
