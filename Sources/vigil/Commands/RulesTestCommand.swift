enum RulesTestCommand { static func run(_ args: [String]) -> Int32 { writeStderr("todo\n"); return 2 } }
enum RulesBench { static func run(_ args: [String]) -> Int32 { writeStderr("todo\n"); return 2 } }
