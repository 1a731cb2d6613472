#if canImport(Glibc)
import Glibc
#endif
import VigilAgent
import VigilCore

/// `vigil config check`: validates the configuration and prints the effective values.
enum ConfigCommand: Command {
    static let name = "config"
    static let summary = "Validate the configuration file and print the effective configuration"

    static let usage = """
        Usage: vigil config check [-c FILE] [-o KEY.PATH=VALUE]... [-r PATH]...

        Reads the configuration (default: vigil.yaml beside the rules, else rules/vigil.yaml,
        else /etc/vigil/vigil.yaml), applies the overrides, validates every key and prints
        the effective configuration as YAML. Exit status 0 when valid, 1 when not.

        Options:
          -c, --config FILE     configuration file
          -o, --option K=V      override a key (repeatable), e.g. -o webserver.listen_port=9000
          -r, --rules PATH      rules file or directory (repeatable; replaces rules_files)
          -h, --help            this help

        """

    static func run(_ args: [String]) -> Int32 {
        var rest = args[...]
        if rest.first == "--help" || rest.first == "-h" || rest.isEmpty {
            FileDescriptorWriter.writeAll(rest.isEmpty ? 2 : 1, usage)
            return rest.isEmpty ? 2 : 0
        }
        guard rest.first == "check" else {
            writeStderr("vigil config: unknown subcommand '\(rest.first!)'\n" + usage)
            return 2
        }
        rest = rest.dropFirst()
        let opts: AgentOptions
        switch AgentOptions.parse(Array(rest), allowRunFlags: false) {
        case .help: FileDescriptorWriter.writeAll(1, usage); return 0
        case .failure(let msg): writeStderr("vigil config check: \(msg)\n"); return 2
        case .options(let o): opts = o
        }
        do {
            let loaded = try opts.loadConfig()
            var out = "# vigil configuration: \(loaded.path ?? "(none found; defaults)")"
            if !loaded.overrides.isEmpty { out += " with \(loaded.overrides.count) override(s)" }
            out += "\n# rules files resolved: " + loaded.resolvedRulesFiles.joined(separator: ", ")
            for k in loaded.config.ignoredFalcoKeys { out += "\n# warning: falco.yaml key '\(k.name)' has no effect in Vigil: \(k.value)" }
            if loaded.config.engine.modernEBPF.cpusForEachBuffer != 0 {
                out += "\n# warning: engine.modern_ebpf.cpus_for_each_buffer has no effect: Vigil has one ring buffer for all CPUs"
            }
            out += "\n# valid\n" + ConfigPrinter.yaml(loaded.config)
            FileDescriptorWriter.writeAll(1, out)
            return 0
        } catch {
            writeStderr("vigil config check: invalid configuration: \(error)\n")
            return 1
        }
    }
}
