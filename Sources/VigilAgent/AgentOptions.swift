import VigilCore

/// Command-line options shared by `vigil run` and `vigil config check`.
package struct AgentOptions: Sendable, Equatable {
    /// `-c FILE`.
    package var configPath: String?
    /// `-o key.path=value`, in order.
    package var overrides: [String] = []
    /// `-r PATH` (repeatable); when given, replaces `rules_files`.
    package var rulesPaths: [String] = []
    /// `--kubeconfig FILE` (sets `k8s.kubeconfig` and enables the API client).
    package var kubeconfig: String?
    /// `--node-name NAME` (sets `k8s.node_name`).
    package var nodeName: String?
    /// `--dry-run`: load everything, print a summary, do not attach.
    package var dryRun = false
    /// `--read FILE` (`-e FILE`, as Falco): run over a capture file instead of the kernel.
    package var readFile: String?

    package init() {}

    /// Result of parsing the arguments.
    package enum Parsed: Sendable, Equatable {
        case options(AgentOptions)
        case help
        case failure(String)
    }

    /// Parses `args`. `allowRunFlags` accepts the flags only `vigil run` has.
    package static func parse(_ args: [String], allowRunFlags: Bool) -> Parsed {
        var o = AgentOptions()
        var i = 0
        func value(_ flag: String) -> String? {
            if i + 1 < args.count { i += 1; return args[i] }
            return nil
        }
        while i < args.count {
            let (a, inline) = CommandLineFlag.split(args[i])
            func take() -> String? { inline ?? value(a) }
            switch a {
            case "-h", "--help": return .help
            case "-c", "--config":
                guard let v = take() else { return .failure("\(a) needs a file") }
                o.configPath = v
            case "-o", "--option":
                guard let v = take() else { return .failure("\(a) needs key.path=value") }
                guard v.contains("=") else { return .failure("\(a) '\(v)': expected key.path=value") }
                o.overrides.append(v)
            case "-r", "--rules":
                guard let v = take() else { return .failure("\(a) needs a rules file or directory") }
                o.rulesPaths.append(v)
            case "--kubeconfig" where allowRunFlags:
                guard let v = take() else { return .failure("--kubeconfig needs a file") }
                o.kubeconfig = v
            case "--node-name" where allowRunFlags:
                guard let v = take() else { return .failure("--node-name needs a name") }
                o.nodeName = v
            case "--dry-run" where allowRunFlags, "--validate-only" where allowRunFlags:
                o.dryRun = true
            case "--read" where allowRunFlags, "-e" where allowRunFlags:
                guard let v = take() else { return .failure("\(a) needs a capture file") }
                o.readFile = v
            default:
                if a.hasPrefix("-o"), a.count > 2, a.contains("=") { o.overrides.append(String(a.dropFirst(2))) }
                else if a.hasPrefix("-r"), a.count > 2 { o.rulesPaths.append(String(a.dropFirst(2))) }
                else { return .failure("unknown option '\(a)'") }
            }
            i += 1
        }
        return .options(o)
    }

    /// The `-o` list with the flag-derived overrides (`-r`, `--kubeconfig`, `--node-name`) added last.
    package var effectiveOverrides: [String] {
        var list = overrides
        if !rulesPaths.isEmpty {
            let cwd = FilePaths.currentDirectory()
            let quoted = rulesPaths.map { ConfigPrinter.quote(FilePaths.absolute($0, relativeTo: cwd)) }
            list.append("rules_files=[" + quoted.joined(separator: ", ") + "]")
        }
        if let k = kubeconfig {
            list.append("k8s.kubeconfig=" + ConfigPrinter.quote(k))
            list.append("k8s.enabled=true")
        }
        if let n = nodeName { list.append("k8s.node_name=" + ConfigPrinter.quote(n)) }
        return list
    }

    /// Loads the configuration file (given or default) with all overrides.
    package func loadConfig() throws(ConfigError) -> LoadedConfig {
        let path = configPath ?? ConfigLoader.defaultPath(rulesPaths: rulesPaths)
        var loaded = try ConfigLoader.load(path: path, overrides: effectiveOverrides)
        loaded.overrides = overrides
        return loaded
    }
}
