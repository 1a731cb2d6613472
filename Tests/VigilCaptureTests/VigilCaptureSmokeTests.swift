import Testing

@Suite struct VigilCapturePlaceholderTests {
    @Test func moduleBuilds() { #expect(Bool(true)) }
}
