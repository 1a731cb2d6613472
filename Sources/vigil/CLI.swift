#if canImport(Glibc)
import Glibc
#endif
import VigilCore

/// A `vigil` subcommand. Each lives in Commands/ and parses its own arguments.
///
/// Refines `SendableMetatype` so `any Command.Type` is `Sendable` and `CLI.commands`
/// can be an ordinary (concurrency-safe) `static let`.
protocol Command: SendableMetatype {
    /// Name as typed (`run`, `trace`, `rules`, ...).
    static var name: String { get }
    /// One-line summary for `vigil --help`.
    static var summary: String { get }
    /// Runs with the arguments after the command name; returns the exit status.
    static func run(_ args: [String]) -> Int32
}

enum CLI {
    /// Every subcommand, in help order. Add new commands here.
    static let commands: [any Command.Type] = [
        RunCommand.self,
        ConfigCommand.self,
        VersionCommand.self,
        TraceCommand.self,
        RulesCommand.self,
    ]

    static func main(_ args: [String]) -> Int32 {
        guard let first = args.first else { printUsage(); return 2 }
        if first == "--help" || first == "-h" || first == "help" { printUsage(); return 0 }
        if first == "--version" { return VersionCommand.run([]) }
        guard let cmd = commands.first(where: { $0.name == first }) else {
            writeStderr("vigil: unknown command '\(first)'\n")
            printUsage(toStderr: true)
            return 2
        }
        return cmd.run(Array(args.dropFirst()))
    }

    static func printUsage(toStderr: Bool = false) {
        var s = "Usage: vigil <command> [options]\n\nCommands:\n"
        for c in commands { s += "  " + c.name.padding(12) + c.summary + "\n" }
        s += "\nRun 'vigil <command> --help' for the options of a command.\n"
        FileDescriptorWriter.writeAll(toStderr ? 2 : 1, s)
    }
}

func writeStderr(_ s: String) { FileDescriptorWriter.writeAll(2, s) }

extension String {
    func padding(_ width: Int) -> String { count >= width ? self + " " : self + String(repeating: " ", count: width - count) }
}
