import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A Containerfile, split into instructions (continuations joined, comments dropped).
struct Containerfile {
    struct Instruction {
        var line: Int
        var keyword: String
        var arguments: String
    }
    struct Stage {
        var name: String?
        var image: String
        var workdir = "/"
        var instructions: [Instruction] = []
    }

    static let keywords: Set<String> = ["FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT",
                                        "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"]

    var globalArgs: [String: String] = [:]
    var stages: [Stage] = []

    /// Parses the text; throws naming the line for anything malformed.
    init(_ text: String, file: String) throws {
        var logical: [(Int, String)] = []
        var pending: (Int, String)?
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = String(raw)
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if pending == nil && (trimmed.isEmpty || trimmed.hasPrefix("#")) { continue }
            if pending != nil && trimmed.hasPrefix("#") { continue }
            var body = line
            let continues = trimmed.hasSuffix("\\")
            if continues { body = String(body[..<body.lastIndex(of: "\\")!]) }
            if var p = pending { p.1 += " " + body.trimmingCharacters(in: .whitespaces); pending = p } else { pending = (i + 1, body) }
            if !continues, let p = pending { logical.append(p); pending = nil }
        }
        if let p = pending { throw DeployError("\(file):\(p.0): line continuation at end of file") }
        for (line, text) in logical {
            let t = text.trimmingCharacters(in: .whitespaces)
            let keyword = String(t.prefix { !$0.isWhitespace }).uppercased()
            let args = t.dropFirst(keyword.count).trimmingCharacters(in: .whitespaces)
            guard Self.keywords.contains(keyword) else { throw DeployError("\(file):\(line): unknown instruction '\(keyword)'") }
            guard !args.isEmpty else { throw DeployError("\(file):\(line): \(keyword) without arguments") }
            let ins = Instruction(line: line, keyword: keyword, arguments: args)
            if keyword == "FROM" {
                let parts = args.split(separator: " ").map(String.init).filter { !$0.hasPrefix("--") }
                guard parts.count == 1 || (parts.count == 3 && parts[1].uppercased() == "AS") else {
                    throw DeployError("\(file):\(line): FROM IMAGE [AS NAME] expected")
                }
                let name = parts.count == 3 ? parts[2] : nil
                if let name, stages.contains(where: { $0.name == name }) { throw DeployError("\(file):\(line): stage \(name) defined twice") }
                stages.append(Stage(name: name, image: expand(parts[0])))
            } else if stages.isEmpty {
                guard keyword == "ARG" else { throw DeployError("\(file):\(line): \(keyword) before the first FROM") }
                let kv = args.split(separator: "=", maxSplits: 1).map(String.init)
                globalArgs[kv[0]] = kv.count > 1 ? kv[1] : ""
            } else {
                if keyword == "WORKDIR" {
                    let w = args
                    stages[stages.count - 1].workdir = w.hasPrefix("/") ? w : stages[stages.count - 1].workdir + "/" + w
                }
                stages[stages.count - 1].instructions.append(ins)
            }
        }
        guard !stages.isEmpty else { throw DeployError("\(file): no FROM") }
    }

    func expand(_ s: String) -> String {
        var out = s
        for (k, v) in globalArgs { out = out.replacingOccurrences(of: "${\(k)}", with: v).replacingOccurrences(of: "$\(k)", with: v) }
        return out
    }

    struct Copy {
        var line: Int
        var from: String?
        var sources: [String]
        var destination: String
    }

    /// The COPY instructions of a stage, with their --from.
    static func copies(_ stage: Stage) throws -> [Copy] {
        try stage.instructions.filter { $0.keyword == "COPY" || $0.keyword == "ADD" }.map { ins in
            var words = ins.arguments.split(separator: " ").map(String.init)
            if words.first?.hasPrefix("[") == true { throw DeployError("line \(ins.line): JSON-form COPY is not checked") }
            var from: String?
            while let w = words.first, w.hasPrefix("--") {
                if w.hasPrefix("--from=") { from = String(w.dropFirst("--from=".count)) }
                words.removeFirst()
            }
            guard words.count >= 2 else { throw DeployError("line \(ins.line): COPY needs a source and a destination") }
            return Copy(line: ins.line, from: from, sources: Array(words.dropLast()), destination: words.last!)
        }
    }
}

/// deploy/Containerfile parses, builds on the locally made base, and copies what `make image` stages.
/// (Tests/ContainerTests builds the image and runs it under containerd and podman: `make test-containers`.)
@Suite struct ContainerfileTests {
    static let file = Deploy.path("deploy/Containerfile")
    static let rootfsScript = Deploy.path("deploy/image/rootfs.sh")

    func parsed() throws -> Containerfile {
        try Containerfile(try String(contentsOfFile: Self.file, encoding: .utf8), file: "deploy/Containerfile")
    }

    @Test func oneStageOnTheLocallyBuiltBase() throws {
        let cf = try parsed()
        #expect(cf.stages.count == 1)
        let runtime = try #require(cf.stages.last)
        // The base comes from deploy/image/rootfs.sh (Debian packages), never from an image registry.
        #expect(runtime.image == "localhost/vigil-base:bookworm", "base image: \(runtime.image)")
        let makefile = try String(contentsOfFile: Deploy.path("Makefile"), encoding: .utf8)
        #expect(makefile.contains("BASE_IMAGE ?= \(runtime.image)"), "make image does not build \(runtime.image)")
        #expect(!runtime.instructions.contains { $0.keyword == "RUN" }, "the base has no shell: RUN cannot work")
        let entry = try #require(runtime.instructions.last { $0.keyword == "ENTRYPOINT" })
        #expect(try JSON.parse(entry.arguments) == .array([.string("/usr/bin/vigil")]), "ENTRYPOINT must be the exec form [\"/usr/bin/vigil\"]")
        let cmd = try #require(runtime.instructions.last { $0.keyword == "CMD" })
        #expect(try JSON.parse(cmd.arguments).array.first == .string("run"))
        // The image carries the agent, its BPF object where the loader searches, and its rules and config.
        let destinations = try Containerfile.copies(runtime).map(\.destination)
        for d in ["/usr/bin/vigil", "/usr/lib/vigil/vigil.bpf.o", "/etc/vigil/"] {
            #expect(destinations.contains(d), "nothing is copied to \(d)")
        }
        #expect(!runtime.instructions.contains { $0.keyword == "VOLUME" }, "the root filesystem is read-only and nothing needs a VOLUME")
        // The directories the DaemonSet mounts over, and the agent's, exist in the base.
        let script = try String(contentsOfFile: Self.rootfsScript, encoding: .utf8)
        for d in ["/usr/lib/vigil", "/etc/vigil", "/etc/vigil-rules.d"] {
            #expect(script.contains("\"$r\"\(d)"), "deploy/image/rootfs.sh does not create \(d) in the base")
        }
    }

    /// Each COPY source is a repository file or one `make image` stages in build/image/.
    @Test func copiedPathsAreWhatMakeImageStages() throws {
        let cf = try parsed()
        let makefile = try String(contentsOfFile: Deploy.path("Makefile"), encoding: .utf8)
        let recipe = imageRecipe(makefile)
        #expect(!recipe.isEmpty, "the Makefile has no image target")
        for c in try Containerfile.copies(try #require(cf.stages.last)) {
            #expect(c.from == nil, "line \(c.line): --from without a build stage")
            for source in c.sources {
                #expect(source != "." && !source.hasPrefix(".build"), "line \(c.line): \(source) would send the host's build trees")
                if source.hasPrefix("build/image/") {
                    let name = String(source.dropFirst("build/image/".count))
                    #expect(recipe.contains("$(IMAGE_DIR)/\(name)"), "line \(c.line): make image does not stage \(name)")
                    let path = Deploy.path(source)
                    if FileManager.default.fileExists(atPath: path) { #expect(try isELF(path), "\(source) is not an ELF file") }
                } else {
                    #expect(!matches(source).isEmpty, "line \(c.line): \(source) matches nothing in the repository")
                }
            }
        }
        // The staged binary is the static-stdlib release build, stripped; the BPF object is make's.
        #expect(recipe.contains("--static-swift-stdlib --product vigil"))
        #expect(recipe.contains("strip -o $(IMAGE_DIR)/vigil .build/release/vigil"))
        #expect(recipe.contains("cp $(BPF_OBJ) $(IMAGE_DIR)/vigil.bpf.o"))
        let dry = try Deploy.run(["/usr/bin/env", "make", "-n", "image"])
        #expect(dry.status == 0, "make -n image fails: \(dry.stderr.prefix(600))")
    }

    /// The image puts the BPF object where the loader looks for it, and the binary where the
    /// agent's default configuration search expects it.
    @Test func imagePathsAreWhereTheAgentLooks() throws {
        let cf = try parsed()
        let runtime = cf.stages[cf.stages.count - 1]
        let copies = try Containerfile.copies(runtime)
        let bpfDest = try #require(copies.first { $0.sources.contains { $0.hasSuffix(".bpf.o") } }?.destination)
        let captureDir = Deploy.path("Sources/VigilCapture")
        let files = (FileManager.default.enumerator(atPath: captureDir)?.allObjects as? [String] ?? []).filter { $0.hasSuffix(".swift") }
        let sources = try files.map { try String(contentsOfFile: captureDir + "/" + $0, encoding: .utf8) }.joined()
        #expect(sources.contains("\"\(bpfDest)\""), "the BPF loader does not search \(bpfDest), where the image installs the object")
        let agentDir = Deploy.path("Sources/VigilAgent")
        let agentFiles = (FileManager.default.enumerator(atPath: agentDir)?.allObjects as? [String] ?? []).filter { $0.hasSuffix(".swift") }
        let agentSources = try agentFiles.map { try String(contentsOfFile: agentDir + "/" + $0, encoding: .utf8) }.joined()
        #expect(agentSources.contains("\"/etc/vigil/vigil.yaml\""), "the agent no longer falls back to /etc/vigil/vigil.yaml")
    }

    /// The `image:` recipe of the Makefile (its tab-indented lines).
    func imageRecipe(_ makefile: String) -> String {
        var out: [Substring] = []
        var inside = false
        for line in makefile.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("image:") { inside = true; continue }
            if inside { if line.hasPrefix("\t") { out.append(line) } else if !line.isEmpty { break } }
        }
        return out.joined(separator: "\n")
    }

    /// Repository paths a COPY source names (a `*` or `?` in the last component is a glob).
    func matches(_ source: String) -> [String] {
        let trimmed = source.hasSuffix("/") ? String(source.dropLast()) : source
        let last = (trimmed as NSString).lastPathComponent
        guard last.contains("*") || last.contains("?") else {
            return FileManager.default.fileExists(atPath: Deploy.path(trimmed)) ? [trimmed] : []
        }
        let dir = (trimmed as NSString).deletingLastPathComponent
        let names = (try? FileManager.default.contentsOfDirectory(atPath: Deploy.path(dir))) ?? []
        return names.filter { fnmatch(last, $0, 0) == 0 }.map { dir + "/" + $0 }
    }

    func isELF(_ path: String) throws -> Bool {
        let h = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? h.close() }
        return try h.read(upToCount: 4) == Data([0x7f, 0x45, 0x4c, 0x46])
    }

    /// The base (deploy/image/rootfs.sh) unpacks the Debian package of every shared library the
    /// binary needs (other than the Swift runtime, which the image links statically).
    @Test(.enabled(if: Deploy.vigilBinary != nil || Deploy.isCI, "no vigil binary built yet"))
    func baseHoldsTheLinkedLibraries() throws {
        let binary = try #require(Deploy.vigilBinary, "no vigil binary: run swift build")
        let script = try String(contentsOfFile: Self.rootfsScript, encoding: .utf8)
        let listLine = try #require(script.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("base) packages=") },
                                    "deploy/image/rootfs.sh has no `base) packages=` list")
        let list = listLine.split(separator: "=", maxSplits: 1)[1].split(separator: " ")[0]
        let installed = Set(list.split(separator: ",").map { String($0).trimmingCharacters(in: CharacterSet(charactersIn: "; ")) })
        let r = try Deploy.run(["/usr/bin/readelf", "-d", binary])
        #expect(r.status == 0, "\(r.stderr)")
        let needed = r.stdout.split(separator: "\n").compactMap { line -> String? in
            guard line.contains("(NEEDED)"), let a = line.firstIndex(of: "["), let b = line.lastIndex(of: "]") else { return nil }
            return String(line[line.index(after: a)..<b])
        }
        #expect(!needed.isEmpty)
        // Where each library resolves: the Swift toolchain's own (linked statically into the image's
        // binary by --static-swift-stdlib) or a Debian package's.
        let ldd = try Deploy.run(["/usr/bin/ldd", binary])
        var resolved: [String: String] = [:]
        for line in ldd.stdout.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count >= 3, parts[1] == "=>" { resolved[String(parts[0]).trimmingCharacters(in: .whitespaces)] = String(parts[2]) }
        }
        // The dynamic loader is libc6's (ldd prints it without `=>`).
        for lib in needed where !lib.hasPrefix("ld-linux") {
            let path = try #require(resolved[lib], "\(lib) does not resolve: \(ldd.output)")
            if path.contains("/usr/lib/swift/") || path.contains("/opt/swift/") { continue }
            let real = (path as NSString).resolvingSymlinksInPath
            var pkg = ""
            for candidate in [path, real, "/usr" + real, "*/" + lib] {
                let q = try Deploy.run(["/usr/bin/dpkg", "-S", candidate])
                if q.status == 0, let first = q.stdout.split(separator: "\n").first {
                    pkg = String(first.prefix { $0 != ":" }); break
                }
            }
            #expect(!pkg.isEmpty, "\(lib) (\(path)): no Debian package owns it")
            #expect(installed.contains(pkg), "deploy/image/rootfs.sh's base does not unpack \(pkg) (for \(lib))")
        }
    }
}
