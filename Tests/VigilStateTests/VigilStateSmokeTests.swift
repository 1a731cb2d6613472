import Testing

@Suite struct VigilStatePlaceholderTests {
    @Test func moduleBuilds() { #expect(Bool(true)) }
}
