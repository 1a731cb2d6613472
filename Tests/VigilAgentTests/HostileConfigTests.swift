import Testing
@testable import VigilAgent
import VigilCore

/// Hostile configuration input (issue 11): positioned errors, never a crash.
@Suite struct HostileConfigTests {
    @Test func malformedHTTPURLsAreRejected() {
        for url in ["http://[::1", "http://[::1]:99999/", "http://", "https://exa mple.com/"] {
            do {
                _ = try ConfigLoader.load(text: "", origin: "h.yaml", overrides: ["http_output.enabled=true", "http_output.url=\(url)"])
                Issue.record("accepted http_output.url=\(url)")
            } catch {
                #expect(error.key == "http_output.url", "\(error)")
                #expect(error.message.contains("invalid URL '\(url)'"), "\(error)")
            }
        }
        for url in ["http://[::1]:2801/", "https://falcosidekick.vigil.svc:2801/", "http://10.0.0.1/x?y=1"] {
            #expect(throws: Never.self) {
                _ = try ConfigLoader.load(text: "", origin: "h.yaml", overrides: ["http_output.enabled=true", "http_output.url=\(url)"])
            }
        }
    }

    @Test func deeplyNestedConfigIsAPositionedError() {
        for depth in [40_000, 50_000] {
            let text = "a: " + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "\n"
            do {
                _ = try ConfigLoader.load(text: text, origin: "deep.yaml")
                Issue.record("accepted \(depth) levels")
            } catch {
                #expect(error.description == "deep.yaml:1:259: YAML nested deeper than 256")
            }
        }
        // Through an override too.
        do {
            _ = try ConfigLoader.load(text: "", origin: "d.yaml", overrides: ["rules_files=" + String(repeating: "[", count: 50_000)])
            Issue.record("accepted a deep override")
        } catch {
            #expect(error.message.contains("YAML nested deeper than 256"), "\(error)")
        }
    }

    @Test func rulesFileSizeLimitIsConfigurable() throws {
        let fx = Fixture(rules: shadowRule + "\n" + String(repeating: "# padding\n", count: 200), config: "rules_file_max_size: 1Ki\n")
        defer { fx.cleanup() }
        let loaded = try fx.options.loadConfig()
        #expect(loaded.config.rulesFileMaxSize == 1024)
        guard case .failure(let rejected) = RuleLoading.load(loaded) else { Issue.record("loaded a rules file over the limit"); return }
        #expect(rejected.errors.first?.contains("rules.yaml:0:0: error: cannot read rules file: file is") == true && rejected.errors.first?.contains("larger than the limit of 1 KiB") == true,
                "\(rejected.errors)")
        #expect(VigilConfig().rulesFileMaxSize == 16 << 20)
    }

    /// An empty rules path would name the configuration's directory (loading it twice): an error
    /// naming the entry, in the file or through -o.
    @Test func emptyRulesFilePathIsAnError() {
        do {
            _ = try ConfigLoader.load(text: "rules_files:\n  - a.yaml\n  - \"\"\n", origin: "e.yaml")
            Issue.record("accepted an empty rules path")
        } catch {
            #expect(error.description == "e.yaml:3:5: rules_files[1]: empty path", "\(error)")
        }
        for o in ["rules_files[]=", "rules_files=", "rules_files=[a.yaml, '']"] {
            do {
                _ = try ConfigLoader.load(text: "", origin: "e.yaml", overrides: [o])
                Issue.record("accepted -o \(o)")
            } catch {
                #expect(error.message == "empty path" && error.key.hasPrefix("rules_files"), "-o \(o): \(error)")
            }
        }
        #expect(throws: Never.self) { _ = try ConfigLoader.load(text: "rules_files: [a.yaml, b/]\n", origin: "e.yaml") }
    }

    @Test func configFileMustBeARegularFileUnderTheLimit() {
        do { _ = try ConfigLoader.load(path: "/dev/zero"); Issue.record("read /dev/zero") } catch {
            #expect(error.description == "/dev/zero: cannot read the configuration file: not a regular file (a character device); Vigil reads only regular files")
        }
    }
}
