#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import VigilAgent
import VigilCapture
import VigilCore
import VigilAlerts
import VigilRules

/// `vigil run`: the agent.
enum RunCommand: Command {
    static let name = "run"
    static let summary = "Run the agent: capture, match rules, emit alerts (Ctrl-C stops)"

    static let usage = """
        Usage: vigil run [-c FILE] [-r PATH]... [-o KEY.PATH=VALUE]... [options]

        Loads the BPF programs, matches every event against the rules and writes
        alerts (Falco's JSON shape) to the configured outputs, stdout by default.
        The agent's own log goes to stderr as JSON lines. SIGINT/SIGTERM stop it
        cleanly (detach, drain the ring, flush the outputs) and print one final
        {"stats": {...}} line on stderr; SIGHUP reloads rules and configuration;
        SIGUSR1 reopens the alert file.

        Options:
          -c, --config FILE       configuration (default: vigil.yaml beside the rules,
                                  else rules/vigil.yaml, else /etc/vigil/vigil.yaml)
          -r, --rules PATH        rules file or directory (repeatable; replaces rules_files)
          -o, --option K=V        override a configuration key (repeatable),
                                  e.g. -o webserver.listen_port=9000 -o json_output=false
              --kubeconfig FILE   enable Kubernetes pod metadata with this kubeconfig
              --node-name NAME    this node's name (pods are watched for it)
              --dry-run           load configuration and rules, print a summary, exit
                                  (also --validate-only)
          -e, --read FILE         run over a capture file (from `vigil trace --write`)
                                  instead of the kernel; stops at its end
          -h, --help              this help

        """

    static func run(_ args: [String]) -> Int32 {
        // Before any thread starts: only the signal thread receives the agent's signals.
        AgentSignals.blockAgentSignals()
        // A closed stdout (`vigil run | head`) is a sink error (counted), not a reason to die.
        signal(SIGPIPE, SIG_IGN)
        let opts: AgentOptions
        switch AgentOptions.parse(args, allowRunFlags: true) {
        case .help: FileDescriptorWriter.writeAll(1, usage); return 0
        case .failure(let msg): writeStderr("vigil run: \(msg)\n\(usage)"); return 2
        case .options(let o): opts = o
        }
        let loaded: LoadedConfig
        do { loaded = try opts.loadConfig() } catch {
            writeStderr("vigil run: invalid configuration: \(error)\n")
            return 1
        }
        Log.setLevel(loaded.config.logLevel)
        Log.info("agent", "configuration loaded", [("file", loaded.path ?? "(defaults)"),
                                                   ("rules_files", loaded.resolvedRulesFiles.joined(separator: ","))])
        for k in loaded.config.ignoredFalcoKeys {
            Log.warning("config", "falco.yaml key accepted without effect", [("key", k.name), ("why", k.value)])
        }
        let agent: Agent
        do { agent = try Agent(options: opts, loaded: loaded) } catch {
            writeStderr("vigil run: \(error)\n")
            return 1
        }
        if opts.dryRun {
            let r = agent.rules.summary
            print("configuration \(loaded.path ?? "(defaults)") is valid; \(r.enabled) rules enabled of \(r.compiled) compiled (\(r.skipped.count) skipped) from \(r.files.count) file(s)")
            agent.dispatcher.stop(timeout: .seconds(1))
            return 0
        }

        if let file = opts.readFile {
            let source: CaptureFileSource
            do { source = try CaptureFileSource(path: file) } catch {
                writeStderr("vigil run: \(error)\n")
                agent.dispatcher.stop(timeout: .seconds(1))
                return 1
            }
            return runAgent(agent, start: { () throws(AgentError) in try agent.start(source: source, seedProcesses: false) })
        }

        let c = loaded.config.engine.modernEBPF
        if c.cpusForEachBuffer != 0 {
            Log.warning("config", "engine.modern_ebpf.cpus_for_each_buffer has no effect: Vigil writes every CPU's events to one shared ring buffer",
                        [("value", String(c.cpusForEachBuffer))])
        }
        var capOpts = BPFCaptureOptions()
        capOpts.ringBufferBytes = loaded.config.engine.ringBufferBytes
        capOpts.maxArgsBytes = c.maxArgsBytes
        capOpts.maxEnvBytes = c.maxEnvBytes
        capOpts.wakeupBytes = c.wakeupBytes
        capOpts.pollIntervalMs = c.pollIntervalMs
        capOpts.ignoreSelf = c.ignoreSelf
        let capture: BPFCapture
        do { capture = try BPFCapture(options: capOpts) } catch {
            writeStderr("vigil run: cannot start capture: \(error)\n")
            agent.dispatcher.stop(timeout: .seconds(1))
            return 1
        }
        let source = BPFRecordSource(capture: capture)
        return runAgent(agent, start: { () throws(AgentError) in
            try agent.start(source: source, setInterest: { types in try capture.setInterest(types) },
                            setEnforcement: { table in try capture.setEnforcement(table) })
        })
    }

    /// Starts the agent, handles signals until it stops, prints the final stats line.
    static func runAgent(_ agent: Agent, start: () throws(AgentError) -> Void) -> Int32 {
        do {
            try start()
        } catch {
            writeStderr("vigil run: \(error)\n")
            _ = agent.shutdown(flushTimeout: .seconds(1))
            return 1
        }

        let signals = SignalWaiter()
        let stopping = Atomic<Bool>(false)
        do { try signals.start { sig in
            switch sig {
            case SIGHUP: agent.requestReload(reason: "SIGHUP")
            case SIGUSR1:
                Log.info("agent", "SIGUSR1: reopening alert files")
                agent.dispatcher.reopen()
            default:
                if stopping.exchange(true, ordering: .acquiringAndReleasing) {
                    Log.warning("agent", "second stop signal: exiting without draining")
                    _exit(130)
                }
                Log.info("agent", "stopping", [("signal", sig == SIGINT ? "SIGINT" : "SIGTERM")])
                agent.requestStop()
            }
        } } catch {
            writeStderr("vigil run: \(error)\n")
            _ = agent.shutdown(flushTimeout: .seconds(1))
            return 1
        }
        agent.waitUntilStopped()
        let stats = agent.shutdown()
        signals.stop()
        FileDescriptorWriter.writeAll(2, stats + "\n")
        if let failure = agent.failure {
            writeStderr("vigil run: event source failed: \(failure)\n")
            return 1
        }
        Log.info("agent", "stopped")
        return 0
    }
}
