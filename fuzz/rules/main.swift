// libFuzzer target: a rules file (YAML) through the loader and the compiler.
// Built by fuzz/build.sh (`make fuzz`); any crash, hang or leak is a bug.
import VigilRules

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRulesYAML(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var loader = RuleLoader()
    loader.load(text: Array(UnsafeBufferPointer(start: data, count: size)), file: "fuzz.yaml")
    let (set, diags) = RuleSet.build(loader.source, loaderDiagnostics: loader.diagnostics)
    // Touch the results so nothing is optimised away; render every diagnostic (marks included).
    var n = set.rules.count
    for d in diags { n &+= d.description.utf8.count }
    return n == -1 ? 1 : 0
}
