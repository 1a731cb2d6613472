/// Command-line flag spelling shared by `vigil run` and `vigil trace`.
package enum CommandLineFlag {
    /// Splits `--name=value` into the flag and its inline value; other arguments
    /// (short flags, `--name` alone, positionals) come back whole with no inline value.
    package static func split(_ arg: String) -> (flag: String, inline: String?) {
        guard arg.hasPrefix("--"), let eq = arg.firstIndex(of: "=") else { return (arg, nil) }
        return (String(arg[..<eq]), String(arg[arg.index(after: eq)...]))
    }
}
