// libFuzzer target: the condition grammar. The input is a condition; it is parsed alone, then
// compiled as the condition of a rule next to a few lists and macros (so macro and list
// references, transformers and operators reach the compiler).
import VigilRules

let prelude = """
    - list: shells
      items: [bash, sh, zsh]
    - list: nested
      items: [shells, "quoted", /etc/shadow]
    - macro: spawned
      condition: evt.type in (execve, execveat)
    - macro: opened
      condition: evt.type in (open, openat, openat2) and evt.is_open_read = true
    - macro: chain
      condition: spawned or (opened and not proc.name in (nested))
    - rule: Fuzz
      desc: fuzz
      condition: |

    """

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCondition(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    _ = try? ConditionParser.parse(text)
    // As a literal block scalar: every line indented, so any text is the condition.
    var yaml = prelude
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) { yaml += "    " + line + "\n" }
    yaml += "  output: fuzz %proc.name %fd.name\n  priority: WARNING\n"
    var loader = RuleLoader()
    loader.load(text: Array(yaml.utf8), file: "fuzz.yaml")
    let (set, diags) = RuleSet.build(loader.source, loaderDiagnostics: loader.diagnostics)
    var n = set.rules.count
    for d in diags { n &+= d.description.utf8.count }
    return n == -1 ? 1 : 0
}
