import Testing

@Suite struct VigilAgentPlaceholderTests {
    @Test func moduleBuilds() { #expect(Bool(true)) }
}
