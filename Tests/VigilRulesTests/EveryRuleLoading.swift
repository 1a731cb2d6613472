@testable import VigilRules

/// Rule files loaded twice for differential tests: every rule enabled (invalid ones skipped),
/// once matching `all` rules and once only the `first` one.
enum EveryRuleLoading {
    /// `paths` loaded with every rule enabled, under `all` and under `first` matching.
    static func allAndFirst(_ paths: [String]) throws -> (all: RuleSet, first: RuleSet) {
        var options = everyRule()
        let (all, _) = try RuleSet.load(paths: paths, options: options)
        options.matching = .first
        let (first, _) = try RuleSet.load(paths: paths, options: options)
        return (all, first)
    }

    /// Load options with every rule enabled (invalid ones skipped), all matches reported.
    static func everyRule() -> RuleLoadOptions {
        var options = RuleLoadOptions()
        options.matching = .all
        options.selectors = [RuleSelector(.enable, rule: "*")]
        options.skipInvalidRules = true
        return options
    }
}
