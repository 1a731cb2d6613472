#if canImport(Glibc)
import Glibc
#endif
import VigilABI

/// `vigil version`: prints the version and event ABI version.
enum VersionCommand: Command {
    static let name = "version"
    static let summary = "Print the version of vigil and its event ABI"
    static let version = "0.1.0"

    static func run(_ args: [String]) -> Int32 {
        if args.contains("--help") || args.contains("-h") {
            print("Usage: vigil version\n\nPrints the vigil version and the event ABI version.")
            return 0
        }
        print("vigil \(version) (event ABI \(VIGIL_ABI_VERSION))")
        return 0
    }
}
