import Testing
@testable import VigilRules
import VigilState

@Suite struct OperatorTests {
    let open = event("""
    type: openat
    res: 3
    args: {dirfd: -100, name: /etc/ssh/sshd_config, flags: O_RDWR|O_CLOEXEC, mode: 0}
    process:
      pid: 100
      exepath: /usr/bin/Vim
      args: [-n, /etc/ssh/sshd_config]
      cwd: /root
      uid: 0
      tty: 34816
      parents:
        - {exepath: /bin/bash, args: [-l]}
        - {exepath: /usr/sbin/sshd, args: [-D]}
    container: {id: 3f9a2b7c1d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8, name: web, image: 'docker.io/library/nginx:1.25'}
    pod: {name: web-1, namespace: shop, uid: u-1, labels: {app: web, tier: front}}
    """)

    @Test func equality() {
        #expect(matches("proc.name = Vim", open))
        #expect(matches("proc.name == Vim", open))
        #expect(!matches("proc.name = vim", open))
        #expect(matches("proc.name != vim", open))
        #expect(matches("fd.num = 3", open))
        #expect(matches("evt.rawres = 3 and evt.res = SUCCESS", open))
        #expect(matches("user.uid = 0 and user.name = root", open))
        #expect(matches("proc.cmdline = \"Vim -n /etc/ssh/sshd_config\"", open))
        #expect(matches("proc.args = '-n /etc/ssh/sshd_config'", open))
        #expect(matches("proc.cwd = /root/", open))
    }

    @Test func ordering() {
        #expect(matches("fd.num < 4 and fd.num <= 3 and fd.num > 2 and fd.num >= 3", open))
        #expect(!matches("fd.num > 3", open))
        #expect(matches("proc.tty > 0", open))
        #expect(matches("proc.pid < 101", open))
    }

    @Test func inAndIntersectsWithLists() {
        let lists = "- list: editors\n  items: [vi, Vim, nano]\n- list: more\n  items: [editors, emacs]\n"
        #expect(matches("proc.name in (editors)", open, lists: lists))
        #expect(matches("proc.name in (more)", open, lists: lists))
        #expect(matches("proc.name in (emacs, more)", open, lists: lists))
        #expect(!matches("proc.name in (\"editors\")", open, lists: lists))
        #expect(matches("proc.name intersects (Vim, x)", open))
        #expect(matches("fd.num in (1, 2, 3)", open))
        #expect(!matches("fd.num in (1, 2)", open))
        #expect(matches("proc.name in ()", open) == false)
    }

    @Test func stringOperators() {
        #expect(matches("fd.name contains /ssh/", open))
        #expect(matches("proc.name icontains vIM", open))
        #expect(!matches("proc.name contains vim", open))
        #expect(matches("fd.name startswith /etc/", open))
        #expect(matches("fd.name endswith _config", open))
        #expect(matches("fd.name bcontains 737368", open))        // "ssh"
        #expect(matches("fd.name bstartswith 2f657463", open))    // "/etc"
        #expect(!matches("fd.name bstartswith 2f757372", open))   // "/usr"
        #expect(matches("fd.name glob '/etc/*/sshd_*'", open))
        #expect(!matches("fd.name glob '/etc/*.conf'", open))
        #expect(matches("proc.name iglob 'v*'", open))
        #expect(matches("fd.name regex '/etc/(ssh|ssl)/.*'", open))
        #expect(!matches("fd.name regex 'ssh'", open))  // full match only
        #expect(matches("fd.filename = sshd_config and fd.directory = /etc/ssh", open))
    }

    @Test func pmatch() {
        #expect(matches("fd.name pmatch (/etc/ssh, /var)", open))
        #expect(matches("fd.name pmatch (/etc/)", open))
        #expect(matches("fd.name pmatch (/etc/ssh/sshd_config)", open))
        #expect(!matches("fd.name pmatch (/etc/ss, /et)", open))
        #expect(!matches("fd.name pmatch (/etc/ssh/sshd_config/x)", open))
        #expect(matches("fd.directory pmatch (/)", open))
    }

    @Test func existsAndUnset() {
        #expect(matches("fd.name exists", open))
        #expect(matches("k8s.pod.name exists", open))
        #expect(!matches("proc.aname[9] exists", open))
        #expect(!matches("proc.aname[9] = x", open))
        #expect(!matches("proc.aname[9] != x", open))  // unset never matches, whatever the operator
        let host = event("type: openat\nres: 3\nargs: {name: /tmp/x, flags: O_RDONLY}\nprocess: {exepath: /bin/cat}")
        #expect(!matches("k8s.ns.name exists", host))
        #expect(matches("container.id = host", host))
        #expect(!matches("container.image.repository exists", host))
    }

    @Test func ancestors() {
        #expect(matches("proc.pname = bash and proc.aname[1] = bash and proc.aname[2] = sshd and proc.aname[0] = Vim", open))
        #expect(matches("proc.aname = sshd", open))
        #expect(matches("proc.aname in (nginx, sshd)", open))
        #expect(!matches("proc.aname = Vim", open))  // without index: ancestors only
        #expect(matches("proc.pcmdline = 'bash -l' and proc.pexepath = /bin/bash", open))
        #expect(matches("proc.aexepath[2] = /usr/sbin/sshd", open))
    }

    @Test func eventArguments() {
        #expect(matches("evt.arg.flags contains O_RDWR", open))
        #expect(matches("evt.arg.name = /etc/ssh/sshd_config", open))
        #expect(matches("evt.arg[2] = /etc/ssh/sshd_config", open))
        #expect(matches("evt.is_open_read = true and evt.is_open_write = true", open))
        #expect(matches("evt.arg.dirfd = AT_FDCWD", open))
        #expect(matches("evt.rawarg.flags > 0", open))
        #expect(matches("evt.args contains sshd_config", open))
    }

    @Test func containerAndPod() {
        #expect(matches("container.id = 3f9a2b7c1d4e and container.name = web", open))
        #expect(matches("container.image.repository = docker.io/library/nginx and container.image.tag = '1.25'", open))
        #expect(matches("k8s.ns.name = shop and k8s.pod.name = web-1", open))
        #expect(matches("k8s.pod.label[app] = web and k8s.pod.label.tier = front", open))
        #expect(!matches("k8s.pod.label[missing] exists", open))
    }

    @Test func transformers() {
        #expect(matches("tolower(proc.name) = vim", open))
        #expect(matches("toupper(proc.name) = VIM", open))
        #expect(matches("basename(fd.name) = sshd_config", open))
        #expect(matches("len(proc.name) = 3", open))
        #expect(matches("len(fd.name) > 10", open))
        #expect(matches("tolower(basename(proc.exepath)) = vim", open))
        let b64 = event("type: openat\nres: 3\nargs: {name: /tmp/aGVsbG8=, flags: O_RDONLY}\nprocess: {exepath: /bin/cat}")
        #expect(matches("b64(fd.filename) = hello", b64))
        #expect(matches("proc.name = val(proc.name)", open))
        #expect(!matches("proc.name = val(proc.pname)", open))
        #expect(matches("fd.name contains val(fd.filename)", open))
        #expect(matches("tolower(proc.name) = tolower(val(proc.name))", open))
    }

    @Test func networkFields() {
        let conn = event("""
        type: connect
        res: 0
        args: {fd: 5}
        process: {exepath: /usr/bin/curl}
        fd: {num: 5, type: ipv4, l4proto: tcp, cip: 10.0.0.5, cport: 40000, sip: 93.184.216.34, sport: 443}
        """)
        #expect(matches("fd.sip = 93.184.216.34 and fd.sport = 443 and fd.l4proto = tcp", conn))
        #expect(matches("fd.ip = 10.0.0.5 and fd.ip = 93.184.216.34", conn))
        #expect(matches("fd.net = \"10.0.0.0/8\" and not fd.snet in (\"10.0.0.0/8\", \"192.168.0.0/16\")", conn))
        #expect(matches("fd.port in (443, 8443) and fd.rport = 443 and fd.lport = 40000", conn))
        #expect(matches("fd.name = 10.0.0.5:40000->93.184.216.34:443", conn))
        #expect(matches("fd.typechar = 4 and fd.type = ipv4 and fd.sockfamily = ip and fd.connected = true", conn))
        #expect(!matches("fd.sip.name exists", conn))
    }

    @Test func threadCapabilities() {
        let ev = event("type: openat\nres: 3\nargs: {name: /x, flags: O_RDONLY}\nprocess: {exepath: /bin/cat, cap_effective: [CAP_SYS_ADMIN, CAP_DAC_OVERRIDE]}")
        #expect(matches("thread.cap_effective contains CAP_SYS_ADMIN and thread.cap_effective icontains dac_override", ev))
        #expect(!matches("thread.cap_effective contains CAP_SYS_MODULE", ev))
    }

    @Test func typeErrorsAndBadValues() {
        #expect(compileErrors("proc.pid contains 3").first?.message.contains("operator 'contains' cannot be used with field 'proc.pid' of type int64") == true)
        #expect(compileErrors("proc.pid = abc").first?.message.contains("not a number") == true)
        #expect(compileErrors("fd.connected = maybe").first?.message.contains("true or false") == true)
        #expect(compileErrors("fd.sip = 1.2.3").first?.message.contains("invalid IP address") == true)
        #expect(compileErrors("fd.name bcontains xyz").first?.message.contains("hex") == true)
        #expect(compileErrors("proc.aname[x] = a").first?.message.contains("numeric index") == true)
        #expect(compileErrors("proc.name[2] = a").first?.message.contains("does not take an argument") == true)
    }
}

@Suite struct FieldReadTests {
    @Test func eventWithoutFDReadsUnset() {
        let ev = event("type: setuid\nres: 0\nargs: {uid: 0}\nprocess: {exepath: /usr/bin/su, uid: 1000}")
        #expect(!matches("fd.name exists", ev))
        #expect(!matches("fd.type exists", ev))
        #expect(!matches("fd.num exists", ev))
        #expect(matches("evt.arg.uid = root and user.uid = 1000", ev))
    }

    @Test func alertOutputFieldsAreTyped() throws {
        let (set, d) = loadRules("""
        - rule: R
          desc: d
          condition: evt.type = openat and fd.name = /etc/shadow
          output: "%proc.name opened %fd.name fd=%fd.num tty=%proc.tty parent=%proc.aname[1] up=%toupper(proc.name) missing=%k8s.pod.name"
          priority: WARNING
          tags: [t1]
        """)
        #expect(errors(d).isEmpty)
        let ev = event("type: openat\nres: 7\nargs: {name: /etc/shadow, flags: O_RDONLY}\nprocess: {exepath: /usr/bin/cat, tty: 34816, parents: [{exepath: /bin/bash}]}\ncontainer: {id: 0123456789abcdef, name: c1, image: 'registry.local/app:2'}")
        let s = set.makeScratch(hostname: "node-1")
        var alerts: [Alert] = []
        _ = ev.withContext { ctx in set.evaluate(ctx, scratch: s) { alerts.append($0) } }
        #expect(alerts.count == 1)
        let a = try #require(alerts.first)
        #expect(a.message == "cat opened /etc/shadow fd=7 tty=34816 parent=bash up=CAT missing=<NA>")
        #expect(a.priority == .warning && a.hostname == "node-1" && a.tags == ["t1"] && a.rule == "R")
        let f = Dictionary(uniqueKeysWithValues: a.outputFields.map { ($0.0, $0.1) })
        #expect(f["fd.num"] == .int(7))
        #expect(f["proc.tty"] == .uint(34816))
        #expect(f["proc.aname[1]"] == .string("bash"))
        #expect(f["toupper(proc.name)"] == .string("CAT"))
        #expect(f["k8s.pod.name"] == AlertFieldValue.none)
        #expect(f["container.id"] == .string("0123456789ab"))
        #expect(f["container.image.repository"] == .string("registry.local/app"))
        #expect(f["container.image.tag"] == .string("2"))
        #expect(f["k8s.ns.name"] == AlertFieldValue.none)
    }
}

@Suite struct UserResolutionTests {
    @Test func containerUsersComeFromTheProcessDatabase() {
        let ev = event("type: setuid\nres: 0\nargs: {uid: 1001}\nprocess: {exepath: /app/run, uid: 1000, gid: 1000}")
        ev.process.userDatabase = UserDatabase(root: "/proc/4242/root",
                                               passwd: "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/ash\nworker:x:1001:1001::/w:/sbin/nologin\n",
                                               group: "app:x:1000:\n")
        #expect(matches("user.name = app and user.homedir = /home/app and user.shell = /bin/ash and group.name = app", ev))
        #expect(matches("evt.arg.uid = worker", ev))
        #expect(!matches("user.loginname exists", ev))
    }
}
