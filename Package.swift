// swift-tools-version:6.2
// Vigil: runtime behaviour monitor for Kubernetes nodes.
//
// The module layout follows the pipeline:
//   capture (VigilCapture + bpf/) -> decode (VigilDecode) -> state (VigilState)
//   -> rules (VigilRules) -> alerts (VigilAlerts), wired by VigilAgent, driven by `vigil`.
import PackageDescription

/// Strictness for every Swift target, set once: the Swift 6 language mode (complete
/// concurrency checking), existentials spelled `any`, members visible only from modules
/// a file imports itself, and every warning an error.
let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .treatAllWarnings(as: .error),
]

let package = Package(
    name: "Vigil",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "vigil", targets: ["vigil"]),
    ],
    targets: [
        // C libraries from Debian -dev packages.
        .systemLibrary(name: "CLibBPF", path: "Sources/CLibBPF", pkgConfig: "libbpf",
                       providers: [.apt(["libbpf-dev", "libelf-dev", "zlib1g-dev"])]),
        .systemLibrary(name: "CYAML", path: "Sources/CYAML", pkgConfig: "yaml-0.1",
                       providers: [.apt(["libyaml-dev"])]),
        .systemLibrary(name: "CCurl", path: "Sources/CCurl", pkgConfig: "libcurl",
                       providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CMicroHTTPD", path: "Sources/CMicroHTTPD", pkgConfig: "libmicrohttpd",
                       providers: [.apt(["libmicrohttpd-dev"])]),

        // The one event ABI header, shared with bpf/*.bpf.c.
        .target(name: "VigilABI", path: "Sources/VigilABI"),
        // pidfd_open / pidfd_send_signal (enforcement kills through a pidfd, never a bare pid).
        .target(name: "CPidfd", path: "Sources/CPidfd"),

        // Shared plumbing: JSON writing, the agent's own log, metrics primitives, the YAML tree, the file reader.
        .target(name: "VigilCore", dependencies: ["CYAML"], swiftSettings: strict),

        // Pipeline stages.
        .target(name: "VigilCapture", dependencies: ["CLibBPF", "VigilABI", "VigilDecode", "VigilCore"], swiftSettings: strict),
        .target(name: "VigilDecode", dependencies: ["VigilABI", "VigilCore"], swiftSettings: strict),
        .target(name: "VigilState", dependencies: ["VigilDecode", "VigilCore", "CCurl", "CYAML"], exclude: ["Containers/README.md"],
                swiftSettings: strict),
        .target(name: "VigilRules", dependencies: ["VigilDecode", "VigilState", "VigilCore", "CYAML"], swiftSettings: strict),
        .target(name: "VigilAlerts", dependencies: ["VigilRules", "VigilCore", "CCurl"], swiftSettings: strict),
        .target(name: "VigilAgent", dependencies: [
            "VigilCapture", "VigilDecode", "VigilState", "VigilRules", "VigilAlerts", "VigilCore",
            "CMicroHTTPD", "CYAML", "CPidfd", "VigilABI",
        ], swiftSettings: strict),

        // The command-line interface.
        .executableTarget(name: "vigil", dependencies: [
            "VigilAgent", "VigilCapture", "VigilDecode", "VigilState", "VigilRules", "VigilAlerts", "VigilCore",
        ], swiftSettings: strict),

        // Benchmarks (`make bench`; built in release).
        .executableTarget(name: "vigil-bench-enrich", dependencies: ["VigilState", "VigilCore"], path: "bench/enrich", swiftSettings: strict),
        .executableTarget(name: "vigil-bench-alerts", dependencies: ["VigilAlerts", "VigilRules", "VigilCore"], path: "bench/alerts",
                          swiftSettings: strict),

        // Tests (Swift Testing).
        .testTarget(name: "VigilCoreTests", dependencies: ["VigilCore"], swiftSettings: strict),
        .testTarget(name: "VigilCaptureTests", dependencies: ["VigilCapture", "VigilDecode", "VigilState", "VigilABI", "VigilCore"], swiftSettings: strict),
        .testTarget(name: "VigilDecodeTests", dependencies: ["VigilDecode", "VigilABI", "VigilCore"], swiftSettings: strict),
        .testTarget(name: "VigilStateTests", dependencies: ["VigilState", "VigilDecode", "VigilABI", "VigilCore", "VigilCapture"], swiftSettings: strict),
        .testTarget(name: "VigilRulesTests", dependencies: ["VigilRules", "VigilState", "VigilDecode", "VigilCore", "VigilABI"], swiftSettings: strict),
        .testTarget(name: "VigilAlertsTests", dependencies: ["VigilAlerts", "VigilRules", "VigilCore"], swiftSettings: strict),
        .testTarget(name: "VigilAgentTests", dependencies: ["VigilAgent", "VigilAlerts", "VigilRules", "VigilState", "VigilDecode", "VigilCapture", "VigilCore", "VigilABI"], swiftSettings: strict),
        .testTarget(name: "DeployTests", dependencies: ["VigilAlerts", "VigilRules", "VigilCore"], swiftSettings: strict),
        // Real container runtimes (`make test-containers`: the image under containerd and podman).
        .testTarget(name: "ContainerTests", dependencies: ["VigilCore", "VigilState"], swiftSettings: strict),
    ]
)
