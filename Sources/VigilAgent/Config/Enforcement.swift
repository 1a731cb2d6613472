import VigilRules
import VigilAlerts

/// The `enforcement` section: which rules stop what they match, and how.
///
/// ```yaml
/// enforcement:
///   mode: dry-run          # off | dry-run | enforce
///   action: kill
///   rules:                 # Falco's rules: selector items, in order
///     - enable: {rule: Drop and execute new binary in container}
///     - enable: {tag: T1059}
///   never: [kubelet, containerd, containerd-shim-runc-v2, crio, systemd]
/// ```
/// Applied by reloads like the rules (no restart).
package struct Enforcement: Sendable, Equatable {
    /// What happens when an enforcing rule matches.
    package enum Mode: String, Sendable, Equatable, CaseIterable {
        /// No enforcement whatever the rules say; alerts carry no action.
        case off
        /// Alerts say what would have been done (`vigil.action_result: would-kill`); nothing is killed.
        case dryRun = "dry-run"
        /// The action is taken.
        case enforce
    }
    /// The action taken on a match.
    package enum Action: String, Sendable, Equatable, CaseIterable {
        /// SIGKILL: in the kernel at exec when the rule compiles there, else through a pidfd from user space.
        case kill
    }

    /// `mode` (default `dry-run`).
    package var mode: Mode = .dryRun
    /// `action` (default `kill`).
    package var action: Action = .kill
    /// `rules`: which rules enforce (none by default), Falco's `rules:` selector items in order.
    package var rules: [RuleSelector] = []
    /// `never`: processes never killed, by exe name (`kubelet`) or absolute path (`/usr/bin/kubelet`).
    package var never: [String] = Enforcement.defaultNever
    /// `kernel`: compile eligible rules into the exec program (false: every kill from user space).
    package var kernel = true
    /// `rate_limit`: kills per second per rule (token bucket), in the exec program and in user space;
    /// matches beyond it are not killed (`rate-limited`) and summarised.
    package var rateLimit = RateLimit(rate: 10, burst: 20)
    /// `summary_interval_ms`: a rule's rate-limited kills are summarised in one alert this long after the first.
    package var summaryIntervalMs = 10_000

    /// The default never-kill list: the kubelet, the container runtimes and systemd.
    package static let defaultNever = ["kubelet", "containerd", "containerd-shim-runc-v2", "crio", "systemd"]

    package init() {}

    /// Whether rule `name` with `tags` enforces (mode aside).
    package func selects(name: String, tags: [String]) -> Bool {
        RuleSelector.select(rules, name: name, tags: tags, initially: false)
    }
}
