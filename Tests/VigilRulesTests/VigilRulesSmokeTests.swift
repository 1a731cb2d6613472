import Testing

@Suite struct VigilRulesPlaceholderTests {
    @Test func moduleBuilds() { #expect(Bool(true)) }
}
