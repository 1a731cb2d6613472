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

/// deploy/Containerfile parses, and what it copies exists where `make` puts it.
@Suite struct ContainerfileTests {
    static let file = Deploy.path("deploy/Containerfile")

    func parsed() throws -> Containerfile {
        try Containerfile(try String(contentsOfFile: Self.file, encoding: .utf8), file: "deploy/Containerfile")
    }

    @Test func parsesIntoABuildAndARuntimeStage() throws {
        let cf = try parsed()
        #expect(cf.stages.count == 2)
        let build = cf.stages[0], runtime = cf.stages[1]
        #expect(build.name == "build")
        #expect(build.image.contains("swift:6.3"), "build stage image: \(build.image)")
        #expect(runtime.image.contains("debian:bookworm-slim"), "runtime image: \(runtime.image)")
        // Every --from names an earlier stage.
        for (i, stage) in cf.stages.enumerated() {
            for c in try Containerfile.copies(stage) {
                if let from = c.from {
                    #expect(cf.stages[..<i].contains { $0.name == from }, "line \(c.line): --from=\(from) is not an earlier stage")
                }
            }
        }
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
    }

    @Test func copiedPathsExistAfterMake() throws {
        let cf = try parsed()
        let build = cf.stages[0]
        // The build stage copies parts of the repository into its WORKDIR (/src/X is the repository's X):
        // each must exist, and together they must hold what `swift build` and `make bpf` read.
        #expect(build.workdir == "/src")
        var copied: [String] = []
        for c in try Containerfile.copies(build) where c.from == nil {
            for source in c.sources {
                #expect(!matches(source).isEmpty, "line \(c.line): \(source) is not in the repository")
                copied.append(source.hasSuffix("/") ? String(source.dropLast()) : source)
            }
        }
        for needed in ["Package.swift", "Makefile", "Sources", "Tests", "bpf"] {
            #expect(copied.contains(needed), "the build stage does not copy \(needed)")
        }
        #expect(!copied.contains("."), "COPY . would send the host's .build/ and build/ into the image build")
        let makefile = try String(contentsOfFile: Deploy.path("Makefile"), encoding: .utf8)
        let package = try String(contentsOfFile: Deploy.path("Package.swift"), encoding: .utf8)
        for (i, stage) in cf.stages.enumerated() where i > 0 {
            for c in try Containerfile.copies(stage) {
                for source in c.sources {
                    if c.from == nil {
                        #expect(!matches(source).isEmpty, "line \(c.line): \(source) matches nothing in the repository")
                        continue
                    }
                    #expect(source.hasPrefix(build.workdir + "/"), "line \(c.line): \(source) is outside the build WORKDIR")
                    let rel = String(source.dropFirst(build.workdir.count + 1))
                    try checkBuildOutput(rel, line: c.line, makefile: makefile, package: package)
                }
            }
        }
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

    /// What the build stage copies is a complete Swift package (every target's directory is there):
    /// `swift package describe` succeeds on a copy of exactly those paths.
    @Test func buildStageHoldsAWholePackage() throws {
        let cf = try parsed()
        let build = cf.stages[0]
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-ctx-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for c in try Containerfile.copies(build) where c.from == nil {
            for source in c.sources {
                for path in matches(source) {
                    let dest = dir + "/" + path
                    try FileManager.default.createDirectory(atPath: (dest as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                    try FileManager.default.copyItem(atPath: Deploy.path(path), toPath: dest)
                }
            }
        }
        let r = try Deploy.run(["/usr/bin/env", "swift", "package", "describe", "--type", "json"], cwd: dir)
        #expect(r.status == 0, "the build stage's files are not a whole package: \(r.stderr.prefix(600))")
        let make = try Deploy.run(["/usr/bin/env", "make", "-n", "bpf", "DEB_PACKAGES="], cwd: dir)
        #expect(make.status == 0, "make -n bpf fails on the build stage's files: \(make.stderr.prefix(600))")
    }

    /// A build-stage output is either the SwiftPM product (built by `make build`), or a file a
    /// Makefile variable names, which must then exist once its rule exists (`make test` builds it).
    func checkBuildOutput(_ rel: String, line: Int, makefile: String, package: String) throws {
        let path = Deploy.path(rel)
        if rel.hasPrefix(".build/release/") {
            let product = String(rel.dropFirst(".build/release/".count))
            #expect(package.contains(".executable(name: \"\(product)\""), "line \(line): \(product) is not a product in Package.swift")
            #expect(makefile.contains("$(SWIFT) build -c release"), "make build no longer builds the release binary")
            if FileManager.default.fileExists(atPath: path) { #expect(try isELF(path), "\(rel) is not an ELF binary") }
            return
        }
        // build/bpf/vigil.bpf.o is $(BPF_OBJ) = $(BUILD_DIR)/bpf/vigil.bpf.o
        let vars = makefileVariables(makefile)
        let named = vars.first { $0.value == rel }
        #expect(named != nil, "line \(line): \(rel) is not an output the Makefile names")
        guard let named else { return }
        let hasRule = makefile.split(separator: "\n").contains { $0.hasPrefix("$(\(named.key)):") || $0.hasPrefix("\(rel):") }
        if hasRule {
            #expect(FileManager.default.fileExists(atPath: path), "\(rel) is missing: `make bpf` should have built it")
        }
        if FileManager.default.fileExists(atPath: path) {
            #expect(try isELF(path), "\(rel) is not an ELF object")
        }
    }

    func makefileVariables(_ makefile: String) -> [String: String] {
        var vars: [String: String] = [:]
        for line in makefile.split(separator: "\n") {
            guard let r = line.range(of: ":=") else { continue }
            let k = line[..<r.lowerBound].trimmingCharacters(in: .whitespaces)
            guard !k.isEmpty, k.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else { continue }
            vars[k] = line[r.upperBound...].trimmingCharacters(in: .whitespaces)
        }
        // Expand $(VAR) references.
        for _ in 0..<4 {
            for (k, v) in vars {
                var e = v
                for (k2, v2) in vars { e = e.replacingOccurrences(of: "$(\(k2))", with: v2) }
                vars[k] = e
            }
        }
        return vars
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

    /// The runtime stage installs the Debian package of every shared library the binary needs
    /// (other than libc's and the Swift runtime, which the image links statically).
    @Test(.enabled(if: Deploy.vigilBinary != nil || Deploy.isCI, "no vigil binary built yet"))
    func runtimeStageInstallsTheLinkedLibraries() throws {
        let binary = try #require(Deploy.vigilBinary, "no vigil binary: run swift build")
        let cf = try parsed()
        let runtime = cf.stages[cf.stages.count - 1]
        let installed = Set(runtime.instructions.filter { $0.keyword == "RUN" }.flatMap {
            $0.arguments.split(separator: " ").map(String.init)
        })
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
        let base = ["libc.so", "libm.so", "ld-linux", "libpthread.so", "libdl.so", "librt.so", "libutil.so", "libstdc++.so", "libgcc_s.so"]
        for lib in needed where !base.contains(where: { lib.hasPrefix($0) }) {
            let path = try #require(resolved[lib], "\(lib) does not resolve: \(ldd.output)")
            if path.contains("/usr/lib/swift/") { continue }
            let real = (path as NSString).resolvingSymlinksInPath
            var pkg = ""
            for candidate in [path, real, "/usr" + real, "*/" + lib] {
                let q = try Deploy.run(["/usr/bin/dpkg", "-S", candidate])
                if q.status == 0, let first = q.stdout.split(separator: "\n").first {
                    pkg = String(first.prefix { $0 != ":" }); break
                }
            }
            #expect(!pkg.isEmpty, "\(lib) (\(path)): no Debian package owns it")
            #expect(installed.contains(pkg), "the runtime stage does not install \(pkg) (for \(lib))")
        }
    }
}
