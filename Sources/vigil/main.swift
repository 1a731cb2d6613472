#if canImport(Glibc)
import Glibc
#endif
import VigilCore

/// `vigil` command-line entry point: dispatches to subcommands.
let arguments = Array(CommandLine.arguments.dropFirst())
exit(CLI.main(arguments))
