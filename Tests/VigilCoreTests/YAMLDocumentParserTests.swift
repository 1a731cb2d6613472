import Testing
import VigilCore

@Suite struct YAMLDocumentParserTests {
    func parse(_ s: String, limits: YAMLDocumentParser.Limits = .init()) throws(YAMLError) -> [YAMLNode] {
        try YAMLDocumentParser.parse(Array(s.utf8), file: "t.yaml", limits: limits)
    }

    @Test func scalarsSequencesMappingsWithMarks() throws {
        let docs = try parse("a: 1\nb:\n  - x\n  - 'y'\n  - |\n    z\n")
        #expect(docs.count == 1)
        let root = docs[0]
        #expect(root.mapping?.map { $0.key.scalar } == ["a", "b"])
        #expect(root["a"]?.scalar == "1")
        #expect(root["a"]?.mark == SourceMark(file: "t.yaml", line: 1, column: 4))
        let items = try #require(root["b"]?.sequence)
        #expect(items.map(\.scalar) == ["x", "y", "z\n"])
        #expect(items[0].isPlainScalar && !items[1].isPlainScalar)
        if case .scalar(_, let quoted, let block) = items[2].kind { #expect(quoted && block) } else { Issue.record("not a scalar") }
        #expect(items[1].mark.line == 4 && items[1].mark.column == 5)
        #expect(root.size == 8)
    }

    @Test func nullsBooleansAndDocuments() throws {
        let docs = try parse("---\n~\n---\nx: yes\ny: 'true'\n---\n")
        #expect(docs.count == 3)
        #expect(docs[0].isNull)
        #expect(docs[1]["x"]?.bool == true)
        #expect(docs[1]["y"]?.bool == nil)
        #expect(docs[2].isNull)
        #expect(try parse("").isEmpty)
    }

    @Test func aliasesShareNodesAndMergeKeysApply() throws {
        let root = try parse("base: &b {k: 1, j: 2}\nuse: *b\nm:\n  <<: *b\n  k: 3\n")[0]
        #expect(root["use"] === root["base"])
        let m = try #require(root["m"])
        #expect(m["k"]?.scalar == "3")
        #expect(m["j"]?.scalar == "2")
        #expect(m.mapping?.count == 2)
    }

    @Test func syntaxErrorHasPosition() {
        #expect(throws: YAMLError.self) { try parse("a: [1, 2\nb: 3\n") }
        do { _ = try parse("a: b: c\n") } catch {
            #expect(error.description.hasPrefix("t.yaml:1:"))
            #expect(error.message.contains("invalid YAML"))
        }
        do { _ = try parse("a: *nope\n") } catch { #expect(error.message == "unknown YAML alias '*nope'") }
    }

    /// 50,000 nested flow sequences (the reproducer from issue 11): a positioned error, no stack overflow.
    @Test func deepNestingIsAPositionedError() {
        for (open, close) in [("[", "]"), ("{a: ", "}")] {
            let depth = 50_000
            let text = String(repeating: open, count: depth) + "x" + String(repeating: close, count: depth)
            do {
                _ = try parse(text)
                Issue.record("accepted \(depth) levels")
            } catch {
                #expect(error.message == "YAML nested deeper than \(YAMLDocumentParser.defaultMaxDepth)")
                #expect(error.mark.line == 1 && error.mark.column > YAMLDocumentParser.defaultMaxDepth)
            }
        }
        // Block style, as a config file would nest.
        var block = ""
        for i in 0..<300 { block += String(repeating: " ", count: i) + "k:\n" }
        do { _ = try parse(block); Issue.record("accepted 300 block levels") } catch {
            #expect(error.description == "t.yaml:257:257: YAML nested deeper than 256")
        }
        // Exactly at the limit is fine.
        let ok = String(repeating: "[", count: 256) + String(repeating: "]", count: 256)
        #expect((try? parse(ok)) != nil)
        #expect((try? parse(ok, limits: .init(maxDepth: 10))) == nil)
    }

    /// A "billion laughs" document: aliases counted at full size hit the node budget.
    @Test func aliasExpansionIsBounded() {
        var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1...9 { text += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]\n" }
        do { _ = try parse(text); Issue.record("accepted 10^10 nodes") } catch {
            #expect(error.message.contains("expands to more than \(YAMLDocumentParser.defaultMaxNodes) nodes"))
            #expect(error.mark.file == "t.yaml" && error.mark.line >= 6)
        }
    }

    /// A 100,000-item sequence builds in one pass (the rules loader's big lists).
    @Test func longSequence() throws {
        let text = "[" + (0..<100_000).map { "i\($0)" }.joined(separator: ",") + "]"
        let root = try parse(text)[0]
        #expect(root.sequence?.count == 100_000)
        #expect(root.sequence?.last?.scalar == "i99999")
    }
}
