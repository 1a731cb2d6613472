import Testing

@Suite struct VigilAlertsPlaceholderTests {
    @Test func moduleBuilds() { #expect(Bool(true)) }
}
