import Testing
@testable import VigilRules
import VigilDecode
import VigilState

/// Renders `output` for `ev` through a rule that always matches.
func render(_ output: String, _ ev: SyntheticEvent) -> String? {
    let yaml = "- rule: r\n  desc: d\n  condition: evt.type = execve\n  output: \"\(output)\"\n  priority: WARNING\n"
    let (set, diags) = loadRules(yaml)
    #expect(errors(diags).isEmpty, "\(diags)")
    guard set.rules.count == 1 else { return nil }
    let s = set.makeScratch(hostname: "h")
    return ev.withContext { set.alert(rule: 0, $0, scratch: s).message }
}

/// `proc.env`, `proc.env[NAME]`, `proc.aenv`, `proc.is_env_truncated` (issue 12, Falco semantics)
/// and `container.mount*` (from the runtime bundle's mounts).
@Suite struct EnvironmentAndMountFieldTests {
    static let withEnv = """
    type: execve
    res: 0
    process:
      exepath: /usr/bin/sudo
      env: [HOME=/home/dev, LD_PRELOAD=/tmp/x.so, SHELL=/bin/bash, SHELL_NEW=/bin/sh, EMPTY=]
      parents:
      - {exepath: /bin/bash, env: [HOME=/home/parent, TOKEN=secret]}
      - {exepath: /usr/sbin/sshd, env: [TOKEN=grand, LANG=C]}
    """

    @Test func procEnvIsTheJoinedEnvironmentAndEnvNameAValue() {
        let ev = event(Self.withEnv)
        #expect(render("%proc.env", ev) == "HOME=/home/dev LD_PRELOAD=/tmp/x.so SHELL=/bin/bash SHELL_NEW=/bin/sh EMPTY=")
        #expect(render("%proc.env[SHELL] %proc.env[SHELL_NEW] %proc.env[NOPE]", ev) == "/bin/bash /bin/sh <NA>")
        #expect(matches("proc.env contains LD_PRELOAD=", ev))
        #expect(matches("proc.env[LD_PRELOAD] = /tmp/x.so", ev))
        #expect(matches("proc.env[EMPTY] = \"\"", ev))
        #expect(!matches("proc.env[LD_PRELOA] exists", ev))  // a prefix of a name is not the name
        #expect(!matches("proc.env[NOPE] exists", ev))
        #expect(matches("proc.is_env_truncated = false", ev))
    }

    /// `proc.env[NAME]` is the first entry that starts with `NAME=`: not a name inside a value,
    /// not the end of a longer name, not a longer name that starts with it.
    @Test func envNameMatchesOnlyWholeEntryNames() {
        let ev = event("""
        type: execve
        res: 0
        process:
          exepath: /bin/ls
          env: [A=LD_PRELOAD=/in/a/value, XLD_PRELOAD=/longer/name, LD_PRELOAD_X=/other, LD_PRELOAD=/real.so, LD_PRELOAD=/second.so, LAST=end]
        """)
        #expect(render("%proc.env[LD_PRELOAD]|%proc.env[A]|%proc.env[LAST]|%proc.env[D_PRELOAD]", ev) == "/real.so|LD_PRELOAD=/in/a/value|end|<NA>")
        let none = event("type: execve\nres: 0\nprocess: {exepath: /bin/ls, env: [A=LD_PRELOAD, LD_PRELOAD]}")
        #expect(render("%proc.env[LD_PRELOAD]", none) == "<NA>")
    }

    @Test func procAenvLooksUpAncestors() {
        let ev = event(Self.withEnv)
        #expect(render("%proc.aenv[HOME] %proc.aenv[TOKEN] %proc.aenv[LANG]", ev) == "/home/parent secret C")
        #expect(render("%proc.aenv[1]", ev) == "HOME=/home/parent TOKEN=secret")
        #expect(render("%proc.aenv[0]", ev) == render("%proc.env", ev))
        #expect(matches("proc.aenv contains LANG=C", ev))           // any ancestor
        #expect(!matches("proc.aenv contains LD_PRELOAD", ev))      // not the process itself
        #expect(matches("proc.aenv[2] contains TOKEN=grand", ev))
        #expect(!matches("proc.aenv[HOME] = val(proc.env[HOME])", ev))
    }

    @Test func uncapturedEnvironmentIsUnsetNotEmpty() {
        let ev = event("type: execve\nres: 0\nprocess: {exepath: /bin/ls}")
        #expect(render("%proc.env|%proc.env[HOME]|%proc.is_env_truncated", ev) == "<NA>|<NA>|<NA>")
        #expect(!matches("proc.env[HOME] != x", ev))
    }

    @Test func truncationIsVisible() {
        let ev = event("type: execve\nres: 0\nprocess: {exepath: /bin/ls, env: [A=1, B=2], env_truncated: true}")
        #expect(matches("proc.is_env_truncated = true", ev))
    }

    @Test func rulesThatReadTheEnvironmentAskForItsCapture() {
        let (a, _) = loadRules("- rule: a\n  desc: d\n  condition: evt.type = execve and proc.name = x\n  output: \"%proc.env[HOME]\"\n  priority: WARNING\n")
        #expect(a.needsEnvironment)
        let (b, _) = loadRules("- rule: b\n  desc: d\n  condition: evt.type = execve and proc.aenv[X] exists\n  output: o\n  priority: WARNING\n")
        #expect(b.needsEnvironment)
        let (c, _) = loadRules("- rule: c\n  desc: d\n  condition: evt.type = execve and proc.name = x\n  output: o\n  priority: WARNING\n")
        #expect(!c.needsEnvironment)
        let (d, _) = loadRules("- rule: d\n  desc: d\n  condition: evt.type = execve and proc.env contains X\n  output: o\n  priority: WARNING\n  enabled: false\n")
        #expect(!d.needsEnvironment)  // disabled rules do not count
        // The capture request is no event type: no row of the syscall table may take its id.
        #expect(EventType.environmentCapture.name == "unknown")
        #expect(!EventType.all.contains(.environmentCapture))
    }

    @Test func badEnvironmentArgumentsAreClearErrors() {
        #expect(compileErrors("evt.type = execve and proc.env[] = x").first?.message.contains("proc.env") == true)
        #expect(compileErrors("evt.type = execve and proc.aenv[-1] = x").first.map { "\($0)" }?.contains("proc.aenv") == true)
        #expect(!compileErrors("evt.type = execve and proc.env.HOME = x").isEmpty)
    }

    static let inContainer = """
    type: execve
    res: 0
    process: {exepath: /bin/sh}
    container:
      id: 3f9a2b7c1d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8
      mounts:
      - {source: /var/run/docker.sock, dest: /var/run/docker.sock, mode: "rbind,rprivate", rw: true, propagation: rprivate}
      - {source: /proc/sys, dest: /host/proc/sys, mode: "rbind,ro", rw: false}
      - {source: /var/lib/kubelet/pods/1/volumes/token, dest: /var/run/secrets/kubernetes.io/serviceaccount, mode: "rbind,ro", rw: false}
    """

    @Test func containerMountFieldsByNumberAndGlob() {
        let ev = event(Self.inContainer)
        #expect(render("%container.mount.dest[0] %container.mount.source[1]", ev) == "/var/run/docker.sock /proc/sys")
        // dest[...] is looked up by source, source[...] by destination (as Falco).
        #expect(render("%container.mount.dest[/proc*]", ev) == "/host/proc/sys")
        #expect(render("%container.mount.source[/host/*]", ev) == "/proc/sys")
        #expect(render("%container.mount.rdwr[/proc/sys] %container.mount.mode[/proc/sys] %container.mount.propagation[0]", ev)
                == "false rbind,ro rprivate")
        #expect(render("%container.mount[1]", ev) == "/proc/sys:/host/proc/sys:rbind,ro:false:")
        #expect(render("%container.mount[9] %container.mount.dest[/etc*]", ev) == "<NA> <NA>")
        #expect(render("%container.mounts", ev)?.hasPrefix("/var/run/docker.sock:/var/run/docker.sock:rbind,rprivate:true:rprivate,/proc/sys:") == true)
        #expect(matches("container.mount.dest[/var/run/docker.sock] exists", ev))
        #expect(!matches("container.mount.dest[/var/lib/kubelet] exists", ev))   // a glob, not a prefix
        #expect(matches("container.mount.dest[/var/lib/kubelet*] startswith /var/run/secrets", ev))
    }

    @Test func hostHasNoMounts() {
        let ev = event("type: execve\nres: 0\nprocess: {exepath: /bin/sh}")
        #expect(render("%container.mounts|%container.mount.dest[0]", ev) == "<NA>|<NA>")
    }

    @Test func mountArgumentsAreRequired() {
        #expect(!compileErrors("evt.type = execve and container.mount.dest = x").isEmpty)
        #expect(!compileErrors("evt.type = execve and container.mount.source[-2] = x").isEmpty)
    }
}
