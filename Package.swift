// swift-tools-version:6.0
// Vigil: runtime behaviour monitor for Kubernetes nodes.
//
// The module layout follows the pipeline:
//   capture (VigilCapture + bpf/) -> decode (VigilDecode) -> state (VigilState)
//   -> rules (VigilRules) -> alerts (VigilAlerts), wired by VigilAgent, driven by `vigil`.
import PackageDescription

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

        // Shared plumbing: JSON writing, the agent's own log, metrics primitives, the YAML tree, the file reader.
        .target(name: "VigilCore", dependencies: ["CYAML"]),

        // Pipeline stages.
        .target(name: "VigilCapture", dependencies: ["CLibBPF", "VigilABI", "VigilDecode", "VigilCore"]),
        .target(name: "VigilDecode", dependencies: ["VigilABI", "VigilCore"]),
        .target(name: "VigilState", dependencies: ["VigilDecode", "VigilCore", "CCurl", "CYAML"]),
        .target(name: "VigilRules", dependencies: ["VigilDecode", "VigilState", "VigilCore", "CYAML"]),
        .target(name: "VigilAlerts", dependencies: ["VigilRules", "VigilCore", "CCurl"]),
        .target(name: "VigilAgent", dependencies: [
            "VigilCapture", "VigilDecode", "VigilState", "VigilRules", "VigilAlerts", "VigilCore",
            "CMicroHTTPD", "CYAML",
        ]),

        // The command-line interface.
        .executableTarget(name: "vigil", dependencies: [
            "VigilAgent", "VigilCapture", "VigilDecode", "VigilState", "VigilRules", "VigilAlerts", "VigilCore",
        ]),

        // Benchmarks (`make bench`; built in release).
        .executableTarget(name: "vigil-bench-enrich", dependencies: ["VigilState", "VigilCore"], path: "bench/enrich"),

        // Tests (Swift Testing).
        .testTarget(name: "VigilCoreTests", dependencies: ["VigilCore"]),
        .testTarget(name: "VigilCaptureTests", dependencies: ["VigilCapture", "VigilDecode", "VigilState", "VigilABI", "VigilCore"]),
        .testTarget(name: "VigilDecodeTests", dependencies: ["VigilDecode", "VigilABI", "VigilCore"]),
        .testTarget(name: "VigilStateTests", dependencies: ["VigilState", "VigilDecode", "VigilABI", "VigilCore", "VigilCapture"]),
        .testTarget(name: "VigilRulesTests", dependencies: ["VigilRules", "VigilState", "VigilDecode", "VigilCore"]),
        .testTarget(name: "VigilAlertsTests", dependencies: ["VigilAlerts", "VigilRules", "VigilCore"]),
        .testTarget(name: "VigilAgentTests", dependencies: ["VigilAgent", "VigilAlerts", "VigilRules", "VigilState", "VigilDecode", "VigilCapture", "VigilCore"]),
        .testTarget(name: "DeployTests", dependencies: ["VigilAlerts", "VigilRules", "VigilCore"]),
        // Real container runtimes (`make test-containers`: the image under containerd and podman).
        .testTarget(name: "ContainerTests", dependencies: ["VigilCore"]),
    ]
)
