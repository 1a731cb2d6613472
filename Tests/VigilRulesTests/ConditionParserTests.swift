import Testing
@testable import VigilRules

@Suite struct ConditionParserTests {
    @Test func precedenceAndOrNot() throws {
        let e = try ConditionParser.parse("a or b and not c")
        guard case .or(let xs) = e, xs.count == 2, case .macro("a", _) = xs[0], case .and(let ys) = xs[1],
              case .macro("b", _) = ys[0], case .not(.macro("c", _)) = ys[1] else {
            Issue.record("unexpected tree \(e)"); return
        }
    }

    @Test func comparisonsListsAndTransformers() throws {
        let e = try ConditionParser.parse("tolower(proc.name) in (bash, 'sh', \"z sh\") and proc.aname[2]=sshd and evt.arg.flags contains O_RDWR and fd.name exists")
        guard case .and(let xs) = e, xs.count == 4 else { Issue.record("\(e)"); return }
        guard case .compare(let f, .in, .list(let items, _), _) = xs[0] else { Issue.record("\(xs[0])"); return }
        #expect(f.name == "proc.name" && f.transformers == [.tolower])
        #expect(items.map(\.0) == ["bash", "sh", "z sh"])
        #expect(items.map(\.1) == [false, true, true])
        guard case .compare(let a, .eq, .value("sshd", _), _) = xs[1] else { Issue.record("\(xs[1])"); return }
        #expect(a.name == "proc.aname" && a.arg == "2")
        guard case .compare(let g, .contains, .value("O_RDWR", _), _) = xs[2] else { Issue.record("\(xs[2])"); return }
        #expect(g.name == "evt.arg" && g.arg == "flags")
        guard case .compare(_, .exists, .none, _) = xs[3] else { Issue.record("\(xs[3])"); return }
    }

    @Test func valOnTheRight() throws {
        let e = try ConditionParser.parse("proc.name = val(proc.pname)")
        guard case .compare(_, .eq, .field(let r), _) = e else { Issue.record("\(e)"); return }
        #expect(r.name == "proc.pname")
        let t = try ConditionParser.parse("proc.name = toupper(val(proc.pname))")
        guard case .compare(_, .eq, .field(let r2), _) = t else { Issue.record("\(t)"); return }
        #expect(r2.transformers == [.toupper])
    }

    @Test func barewordsWithSymbols() throws {
        let e = try ConditionParser.parse("evt.dir=< and fd.name startswith /etc/ and fd.num=-1 and fd.snet in (\"10.0.0.0/8\")")
        guard case .and(let xs) = e, case .compare(_, .eq, .value("<", _), _) = xs[0],
              case .compare(_, .startswith, .value("/etc/", _), _) = xs[1],
              case .compare(_, .eq, .value("-1", _), _) = xs[2] else { Issue.record("\(e)"); return }
    }

    @Test func syntaxErrorsHavePositions() {
        func offset(_ s: String) -> Int? { do { _ = try ConditionParser.parse(s); return nil } catch { return error.offset } }
        #expect(offset("proc.name = ") == 10)
        #expect(offset("(proc.name = bash") == 17)
        #expect(offset("proc.name bogus x") == 10)
        #expect(offset("proc.name in (a, b") == 13)
        #expect(offset("proc.name = 'abc") == 12)
        #expect(offset("") == 0)
        #expect(offset("a and") == 5)
    }
}
