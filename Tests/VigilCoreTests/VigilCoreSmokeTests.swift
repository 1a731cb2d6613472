import Testing

@Suite struct VigilCorePlaceholderTests {
    @Test func moduleBuilds() { #expect(Bool(true)) }
}
