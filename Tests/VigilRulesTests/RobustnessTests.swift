import Testing
@testable import VigilRules
import VigilCore

/// Damaged input gives diagnostics, never a crash.
@Suite struct RobustnessTests {
    static let sample = """
    - required_engine_version: 0.50.0
    - list: shells
      items: [bash, "sh", 'zsh']
    - macro: spawned
      condition: evt.type in (execve, execveat) and evt.dir = <
    - rule: Shell in container
      desc: >
        a shell ran
      condition: spawned and proc.name in (shells) and container.id != host and fd.name pmatch (/etc, /root) and tolower(proc.pname) glob 'ngin*' and fd.name regex '/e.*'
      output: "%proc.name %toupper(proc.pname) %proc.aname[2] %evt.arg.flags"
      priority: WARNING
      tags: [a, b]
      exceptions:
        - name: e
          fields: [proc.name, proc.pname]
          comps: [=, in]
          values: [[bash, [nginx]]]
    """

    struct Rng { var s: UInt64; mutating func next() -> UInt64 { s ^= s << 13; s ^= s >> 7; s ^= s << 17; return s } }

    @Test func mutatedRuleFilesNeverCrash() {
        let base = Array(Self.sample.utf8)
        var rng = Rng(s: 42)
        let noise: [UInt8] = Array("()[]{}:,-'\"\\&*!|>%=<\n\t #".utf8) + [0, 0xff, 0xc3]
        for round in 0..<400 {
            var b = base
            let edits = 1 + Int(rng.next() % 4)
            for _ in 0..<edits {
                let i = Int(rng.next() % UInt64(b.count))
                switch rng.next() % 3 {
                case 0: b[i] = noise[Int(rng.next() % UInt64(noise.count))]
                case 1: b.remove(at: i)
                default: b.insert(noise[Int(rng.next() % UInt64(noise.count))], at: i)
                }
            }
            if round % 10 == 0 { b = Array(b.prefix(Int(rng.next() % UInt64(b.count)))) }
            var loader = RuleLoader()
            loader.load(text: b, file: "fuzz.yaml")
            let (set, diags) = RuleSet.build(loader.source, loaderDiagnostics: loader.diagnostics)
            for d in diags { #expect(d.mark.file == "fuzz.yaml") }
            _ = set.summary
        }
    }

    @Test func mutatedConditionsNeverCrash() {
        let base = Array("proc.name in (a, 'b c') and not (fd.name startswith /etc or evt.arg[1] = x) and tolower(proc.aname[2]) = val(proc.pname)".utf8)
        var rng = Rng(s: 7)
        var parsed = 0, rejected = 0
        for _ in 0..<2000 {
            var b = base
            let i = Int(rng.next() % UInt64(b.count))
            if rng.next() % 2 == 0 { b.remove(at: i) } else { b[i] = UInt8(truncatingIfNeeded: rng.next()) }
            let text = String(decoding: b, as: UTF8.self)
            // Either it parses, or the error names a place inside the text and says what is wrong.
            do throws(ConditionSyntaxError) {
                _ = try ConditionParser.parse(text)
                parsed += 1
            } catch {
                #expect(error.offset >= 0 && error.offset <= text.utf8.count, "\(error.offset) outside \(text.utf8.count) bytes")
                #expect(!error.message.isEmpty)
                rejected += 1
            }
        }
        // The mutations exercise both outcomes.
        #expect(parsed > 0 && rejected > 0)
    }
}
