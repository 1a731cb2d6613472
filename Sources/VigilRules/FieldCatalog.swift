/// Value types of fields, with Falco's names.
package enum FieldType: String, Sendable {
    case string = "charbuf", int64, uint64, uint32, bool, ipaddr, ipnet, port, abstime, reltime, bytebuf
    /// `evt.arg.*`: a rendered string that also compares numerically.
    case dynamic = "dynamic"

    var isNumeric: Bool {
        switch self {
        case .int64, .uint64, .uint32, .port, .abstime, .reltime: true
        default: false
        }
    }
    var isString: Bool { self == .string || self == .bytebuf || self == .dynamic }
}

/// What goes in a field's `[...]` or after its name.
package enum FieldArgKind: Sendable {
    case none
    /// `proc.aname[N]`; `anyWithout` means no index = any ancestor.
    case index(required: Bool, anyWithout: Bool)
    /// `k8s.pod.label[KEY]` / `k8s.pod.label.KEY`.
    case key
    /// `proc.env` or `proc.env[NAME]`: the key may be left out (no dotted form).
    case optionalKey
    /// `evt.arg.NAME` or `evt.arg[N]`.
    case argument
}

/// One field of the catalog.
package struct FieldDefinition: Sendable {
    package let name: String
    package let type: FieldType
    package let description: String
    package let argKind: FieldArgKind
    let id: FieldID
    /// Nil when Vigil implements it; otherwise why not (the rule is skipped).
    package let unsupported: String?
}

/// Identifies an extractor (see ``FieldExtractor``).
enum FieldID: UInt16, Sendable {
    // proc
    case procPid, procPpid, procName, procExe, procExepath, procArgs, procCmdline, procCmdnargs, procCmdlenargs
    case procPname, procPexe, procPexepath, procPcmdline, procAname, procApid, procAexe, procAexepath, procAcmdline
    case procCwd, procTty, procDuration, procPpidDuration, procStartTs, procSname, procSid, procVpgid, procVpgidName, procVpgidExe
    case procIsVpgidLeader, procIsSidLeader, procVpid, procPvpid, procIsExeUpperLayer, procIsExeFromMemfd, procIsExeWritable
    case procIsExe32bit
    case procExeIno, procExeInoCtime, procExeInoMtime, procExeInoCtimeDurationProcStart, procLoginshellid
    case procEnv, procAenv, procIsEnvTruncated
    // thread
    case threadTid, threadVtid, threadCapEffective, threadCapPermitted
    // user / group
    case userUid, userName, userLoginuid, userLoginname, userHomedir, userShell, groupGid, groupName
    // evt
    case evtType, evtNum, evtTime, evtTimeS, evtTimeIso, evtDatetime, evtRawtime, evtHostname, evtDir, evtRes, evtRawres
    case evtIsCompat, evtIsIoUring
    case evtFailed, evtIsOpenRead, evtIsOpenWrite, evtIsOpenExec, evtIsOpenCreate, evtArg, evtRawarg, evtArgs, evtCpu, evtSource, evtTid, evtPid
    // fd
    case fdNum, fdType, fdTypechar, fdName, fdNameraw, fdDirectory, fdFilename, fdIp, fdCip, fdSip, fdLip, fdRip
    case fdPort, fdCport, fdSport, fdLport, fdRport, fdL4proto, fdSockfamily, fdIsServer, fdNet, fdCnet, fdSnet, fdLnet, fdRnet
    case fdConnected, fdNameChanged, fdCipName, fdSipName, fdLipName, fdRipName, fdIno, fdDev, fdNlink, fdSameFileAs
    // container
    case containerId, containerFullId, containerName, containerImage, containerImageRepository, containerImageTag
    case containerImageDigest, containerType, containerPrivileged, containerStartTs, containerDuration
    case containerMounts, containerMount, containerMountSource, containerMountDest, containerMountMode, containerMountRdwr
    case containerMountPropagation
    // k8s
    case k8sPodName, k8sPodUid, k8sPodLabel, k8sPodLabels, k8sNsName, k8sPodSa, k8sWorkloadName, k8sWorkloadKind, k8sNodeName
    // configuration
    case staticField, fdTypes
    case unsupported
}

extension FieldID {
    /// `container.mount`, `container.mount.source`, `.dest`, `.mode`, `.rdwr`, `.propagation`.
    var isContainerMount: Bool {
        switch self {
        case .containerMount, .containerMountSource, .containerMountDest, .containerMountMode, .containerMountRdwr,
             .containerMountPropagation: true
        default: false
        }
    }
}

/// Falco's field names, types and descriptions, as far as Vigil fills them.
package enum FieldCatalog {
    static func f(_ name: String, _ type: FieldType, _ id: FieldID, _ arg: FieldArgKind, _ desc: String) -> FieldDefinition {
        FieldDefinition(name: name, type: type, description: desc, argKind: arg, id: id, unsupported: nil)
    }
    static func f(_ name: String, _ type: FieldType, _ id: FieldID, _ desc: String) -> FieldDefinition {
        FieldDefinition(name: name, type: type, description: desc, argKind: .none, id: id, unsupported: nil)
    }
    static func u(_ name: String, _ type: FieldType, _ why: String, _ arg: FieldArgKind, _ desc: String) -> FieldDefinition {
        FieldDefinition(name: name, type: type, description: desc, argKind: arg, id: .unsupported, unsupported: why)
    }
    static let anc = FieldArgKind.index(required: false, anyWithout: true)
    /// How `fd.*ip.name` is resolved (Falco's DNS manager; no DNS traffic is captured).
    static func dnsNote(_ side: String) -> String {
        "domain name of the \(side) IP, as Falco resolves it: = and in match when the address is one of the named hosts' "
            + "(resolved in the background with the system resolver); in outputs, a cached name or <NA> (DNS answers are not captured)"
    }

    /// Every field, in display order.
    package static let all: [FieldDefinition] = [
        f("proc.pid", .int64, .procPid, "the id of the process generating the event"),
        f("proc.ppid", .int64, .procPpid, "the pid of the parent of the process generating the event"),
        f("proc.name", .string, .procName, "the name (excluding the path) of the executable generating the event (comm)"),
        f("proc.exe", .string, .procExe, "the first command-line argument (argv[0]) of the process"),
        f("proc.exepath", .string, .procExepath, "the full executable path of the process"),
        f("proc.args", .string, .procArgs, "the arguments passed on the command line, joined by spaces, excluding argv[0]"),
        f("proc.cmdline", .string, .procCmdline, "full process command line: proc.name + proc.args"),
        f("proc.cmdnargs", .uint64, .procCmdnargs, "the number of command line arguments (excluding argv[0])"),
        f("proc.cmdlenargs", .uint64, .procCmdlenargs, "the total length of the command line arguments (excluding argv[0])"),
        f("proc.pname", .string, .procPname, "the name of the parent of the process"),
        f("proc.pexe", .string, .procPexe, "argv[0] of the parent of the process"),
        f("proc.pexepath", .string, .procPexepath, "the full executable path of the parent of the process"),
        f("proc.pcmdline", .string, .procPcmdline, "the full command line (proc.name + proc.args) of the parent"),
        f("proc.aname", .string, .procAname, anc, "the name of an ancestor: proc.aname[1] is the parent, [2] the grandparent...; without an index, any ancestor"),
        f("proc.apid", .int64, .procApid, anc, "the pid of an ancestor (index as proc.aname)"),
        f("proc.aexe", .string, .procAexe, anc, "argv[0] of an ancestor (index as proc.aname)"),
        f("proc.aexepath", .string, .procAexepath, anc, "the full executable path of an ancestor (index as proc.aname)"),
        f("proc.acmdline", .string, .procAcmdline, anc, "the command line of an ancestor (index as proc.aname)"),
        f("proc.cwd", .string, .procCwd, "the current working directory of the process, with a trailing /"),
        f("proc.tty", .uint32, .procTty, "the controlling terminal of the process, 0 for processes without a terminal"),
        f("proc.duration", .reltime, .procDuration, "nanoseconds since the process started"),
        f("proc.ppid.duration", .reltime, .procPpidDuration, "nanoseconds since the parent process started"),
        f("proc.start_ts", .abstime, .procStartTs, "process start time, boot-clock nanoseconds"),
        f("proc.sname", .string, .procSname, "the name of the session leader of the process"),
        f("proc.sid", .int64, .procSid, "the session id of the process"),
        f("proc.vpgid", .int64, .procVpgid, "the process group id of the process"),
        f("proc.vpgid.name", .string, .procVpgidName, "the name of the process group leader"),
        f("proc.vpgid.exe", .string, .procVpgidExe, "argv[0] of the process group leader"),
        f("proc.is_vpgid_leader", .bool, .procIsVpgidLeader, "true if the process is its process group's leader"),
        f("proc.is_sid_leader", .bool, .procIsSidLeader, "true if the process is its session's leader"),
        f("proc.vpid", .int64, .procVpid, "the pid as seen from the process's own pid namespace"),
        f("proc.pvpid", .int64, .procPvpid, "the parent's pid as seen from its own pid namespace"),
        f("proc.is_exe_upper_layer", .bool, .procIsExeUpperLayer, "true if the executable lives on an overlayfs upper layer (dropped into a running container)"),
        f("proc.is_exe_from_memfd", .bool, .procIsExeFromMemfd, "true if the executable is a memfd (fileless execution)"),
        f("proc.is_exe_writable", .bool, .procIsExeWritable, "true if the executable is writable by the executing user"),
        f("proc.is_exe_32bit", .bool, .procIsExe32bit, "true if the program image is a 32-bit x86 ELF (its syscalls are ia32 by design)"),
        f("proc.exe_ino", .int64, .procExeIno, "the inode number of the executable"),
        f("proc.exe_ino.ctime", .abstime, .procExeInoCtime, "the executable's inode change time (ns since epoch)"),
        f("proc.exe_ino.mtime", .abstime, .procExeInoMtime, "the executable's modification time (ns since epoch)"),
        f("proc.exe_ino.ctime_duration_proc_start", .reltime, .procExeInoCtimeDurationProcStart, "ns between the executable's ctime and the process start"),
        f("proc.loginshellid", .int64, .procLoginshellid, "the pid of the oldest shell ancestor of the process"),
        f("proc.env", .string, .procEnv, .optionalKey,
          "the environment of the process as 'NAME=value NAME1=value1' (copied at exec, only while a loaded rule uses proc.env or proc.aenv; up to capture.max_env_bytes, see proc.is_env_truncated); proc.env[NAME] is the value of NAME"),
        f("proc.aenv", .string, .procAenv, .optionalKey,
          "the environment of an ancestor: without an argument any ancestor (as proc.aname), proc.aenv[N] the one N levels up (0 is the process), proc.aenv[NAME] the first value of NAME from the parent up (20 levels)"),
        f("proc.is_env_truncated", .bool, .procIsEnvTruncated, "true if the process's environment was cut when copied at exec (proc.env holds only its start)"),
        u("proc.is_container_healthcheck", .bool, "container health checks are not tracked", .none, "true if the process is a container health check"),
        u("proc.stdin.name", .string, "stdin fds are not tracked", .none, "the name of the process's stdin"),
        f("thread.tid", .int64, .threadTid, "the id of the thread generating the event"),
        f("thread.vtid", .int64, .threadVtid, "the thread id as seen from its pid namespace"),
        f("thread.cap_effective", .string, .threadCapEffective, "the effective capabilities set of the thread (CAP_... names)"),
        f("thread.cap_permitted", .string, .threadCapPermitted, "the permitted capabilities set of the thread (CAP_... names)"),
        u("thread.cap_inheritable", .string, "inheritable capabilities are not captured", .none, "the inheritable capabilities set"),
        f("user.uid", .uint32, .userUid, "user id"),
        f("user.name", .string, .userName, "user name"),
        f("user.loginuid", .int64, .userLoginuid, "audit user id (auid); -1 when unset"),
        f("user.loginname", .string, .userLoginname, "audit user name (auid)"),
        f("user.homedir", .string, .userHomedir, "home directory of the user"),
        f("user.shell", .string, .userShell, "the user's login shell"),
        f("group.gid", .uint32, .groupGid, "group id"),
        f("group.name", .string, .groupName, "group name"),
        f("evt.type", .string, .evtType, "the name of the event (e.g. open, execve)"),
        f("evt.num", .uint64, .evtNum, "event number (per agent)"),
        f("evt.time", .string, .evtTime, "event timestamp as hh:mm:ss.nnnnnnnnn"),
        f("evt.time.s", .string, .evtTimeS, "event timestamp as hh:mm:ss"),
        f("evt.time.iso8601", .string, .evtTimeIso, "event timestamp in ISO 8601 format"),
        f("evt.datetime", .string, .evtDatetime, "event timestamp as YYYY-MM-DD hh:mm:ss.nnnnnnnnn"),
        f("evt.rawtime", .abstime, .evtRawtime, "absolute event timestamp, ns since epoch"),
        f("evt.hostname", .string, .evtHostname, "the hostname of the underlying host"),
        f("evt.dir", .string, .evtDir, "event direction: < for exit events (all Vigil events are exit events)"),
        f("evt.res", .string, .evtRes, "event return value: SUCCESS or the errno name (ENOENT, ...)"),
        f("evt.rawres", .int64, .evtRawres, "event return value as a number"),
        f("evt.failed", .bool, .evtFailed, "true for events that returned an error"),
        f("evt.is_compat", .bool, .evtIsCompat, "true for a 32-bit syscall: an ia32 process, or int 0x80 from a 64-bit one (i386 numbers and registers)"),
        f("evt.is_io_uring", .bool, .evtIsIoUring, "true for an operation submitted through io_uring (reported at its completion, with evt.type the matching syscall)"),
        f("evt.is_open_read", .bool, .evtIsOpenRead, "true for open/openat/openat2/creat opening the file for reading"),
        f("evt.is_open_write", .bool, .evtIsOpenWrite, "true for open/openat/openat2/creat opening the file for writing"),
        f("evt.is_open_exec", .bool, .evtIsOpenExec, "true for open events creating a file with execute permissions"),
        f("evt.is_open_create", .bool, .evtIsOpenCreate, "true for open events with O_CREAT"),
        f("evt.arg", .dynamic, .evtArg, .argument, "an event argument by name (evt.arg.flags) or index (evt.arg[0]), rendered"),
        f("evt.rawarg", .int64, .evtRawarg, .argument, "an event argument by name, as a raw number"),
        f("evt.args", .string, .evtArgs, "all event arguments as name=value pairs"),
        f("evt.cpu", .int64, .evtCpu, "the CPU the event happened on"),
        f("evt.source", .string, .evtSource, "the event source (syscall)"),
        f("evt.pid", .int64, .evtPid, "the pid of the process generating the event"),
        f("evt.tid", .int64, .evtTid, "the tid of the thread generating the event"),
        u("evt.buffer", .bytebuf, "I/O buffers are not captured", .none, "the binary data buffer of read/write events"),
        f("fd.num", .int64, .fdNum, "the file descriptor number"),
        f("fd.type", .string, .fdType, "type of fd: file, directory, ipv4, ipv6, unix, pipe, event, signalfd, eventpoll, inotify, timerfd, netlink, bpf, memfd, ..."),
        f("fd.typechar", .string, .fdTypechar, "type of fd as a letter (f file, 4 ipv4, 6 ipv6, u unix, p pipe, ...)"),
        f("fd.name", .string, .fdName, "full name of the fd: the absolute path for files, sip:sport->dip:dport for sockets"),
        f("fd.nameraw", .string, .fdNameraw, "the fd's name as passed to the syscall, without resolution"),
        f("fd.directory", .string, .fdDirectory, "for files, the directory containing the file"),
        f("fd.filename", .string, .fdFilename, "for files, the file name without the path"),
        f("fd.ip", .ipaddr, .fdIp, "matches the client or the server IP address"),
        f("fd.cip", .ipaddr, .fdCip, "client IP address"),
        f("fd.sip", .ipaddr, .fdSip, "server IP address"),
        f("fd.lip", .ipaddr, .fdLip, "local IP address"),
        f("fd.rip", .ipaddr, .fdRip, "remote IP address"),
        f("fd.port", .port, .fdPort, "matches the client or the server port"),
        f("fd.cport", .port, .fdCport, "client port"),
        f("fd.sport", .port, .fdSport, "server port"),
        f("fd.lport", .port, .fdLport, "local port"),
        f("fd.rport", .port, .fdRport, "remote port"),
        f("fd.l4proto", .string, .fdL4proto, "the IP protocol of a socket: tcp, udp, icmp or raw"),
        f("fd.sockfamily", .string, .fdSockfamily, "the socket family: ip or unix"),
        f("fd.is_server", .bool, .fdIsServer, "true if the process owning this fd is the server endpoint"),
        f("fd.net", .ipnet, .fdNet, "matches the client or server IP address against a network (CIDR)"),
        f("fd.cnet", .ipnet, .fdCnet, "matches the client IP address against a network"),
        f("fd.snet", .ipnet, .fdSnet, "matches the server IP address against a network"),
        f("fd.lnet", .ipnet, .fdLnet, "matches the local IP address against a network"),
        f("fd.rnet", .ipnet, .fdRnet, "matches the remote IP address against a network"),
        f("fd.connected", .bool, .fdConnected, "true if the socket is connected"),
        f("fd.name_changed", .bool, .fdNameChanged, "true when the fd's name changed with this event (connect, rename)"),
        f("fd.cip.name", .string, .fdCipName, FieldCatalog.dnsNote("client")),
        f("fd.sip.name", .string, .fdSipName, FieldCatalog.dnsNote("server")),
        f("fd.lip.name", .string, .fdLipName, FieldCatalog.dnsNote("local")),
        f("fd.rip.name", .string, .fdRipName, FieldCatalog.dnsNote("remote")),
        f("fd.types", .string, .fdTypes, .index(required: false, anyWithout: false),
          "a list: the types of the process's open fds, each once (fd.types[N]: the type of fd N); operators in, intersects, exists"),
        f("fd.dev", .int64, .fdDev, "device of the file's file system, as stat's st_dev (files opened while Vigil runs)"),
        f("fd.nlink", .int64, .fdNlink, "hard links to the file's inode (more than 1: the file has other names)"),
        f("fd.same_file_as", .bool, .fdSameFileAs, .key,
          "true if the fd's file is the file at the path in brackets, as the event's process sees it (same device and inode): catches a hard link to it or the file seen through a bind mount (fd.same_file_as[/etc/shadow])"),
        f("fd.ino", .int64, .fdIno, "inode number of the file (files opened while Vigil runs): a hard link has the same"),
        f("container.id", .string, .containerId, "the container id (12 characters), or host"),
        f("container.full_id", .string, .containerFullId, "the full container id, or host"),
        f("container.name", .string, .containerName, "the container name"),
        f("container.image", .string, .containerImage, "the container image reference"),
        f("container.image.repository", .string, .containerImageRepository, "the container image repository"),
        f("container.image.tag", .string, .containerImageTag, "the container image tag"),
        f("container.image.digest", .string, .containerImageDigest, "the container image digest"),
        f("container.type", .string, .containerType, "the container runtime: containerd, cri-o, docker or host"),
        f("container.privileged", .bool, .containerPrivileged, "true for containers running privileged"),
        f("container.start_ts", .abstime, .containerStartTs, "container start time, ns since epoch"),
        f("container.duration", .reltime, .containerDuration, "ns since the container started"),
        f("container.mounts", .string, .containerMounts,
          "the container's bind mounts from its runtime bundle (config.json), comma-separated, each as <source>:<dest>:<mode>:<rdwr>:<propagation>"),
        f("container.mount", .string, .containerMount, .key,
          "one mount as <source>:<dest>:<mode>:<rdwr>:<propagation>, by number (container.mount[0]) or by source glob (container.mount[/var/run/*])"),
        f("container.mount.source", .string, .containerMountSource, .key,
          "a mount's source, by number (container.mount.source[0]) or by destination glob (container.mount.source[/host/lib/modules])"),
        f("container.mount.dest", .string, .containerMountDest, .key,
          "a mount's destination, by number (container.mount.dest[0]) or by source glob (container.mount.dest[/proc*])"),
        f("container.mount.mode", .string, .containerMountMode, .key,
          "a mount's options (comma-separated, as in the bundle), by number or by source glob"),
        f("container.mount.rdwr", .string, .containerMountRdwr, .key, "true if a mount is read-write, by number or by source glob"),
        f("container.mount.propagation", .string, .containerMountPropagation, .key,
          "a mount's propagation (rprivate, rshared, rslave, ...; empty when the bundle names none), by number or by source glob"),
        u("container.healthcheck", .string, "container health checks are not tracked", .none, "the container's health check"),
        f("k8s.pod.name", .string, .k8sPodName, "the Kubernetes pod name"),
        f("k8s.pod.uid", .string, .k8sPodUid, "the Kubernetes pod UID"),
        f("k8s.pod.id", .string, .k8sPodUid, "the Kubernetes pod UID (legacy name)"),
        f("k8s.pod.label", .string, .k8sPodLabel, .key, "a Kubernetes pod label (k8s.pod.label[app] or k8s.pod.label.app)"),
        f("k8s.pod.labels", .string, .k8sPodLabels, "the Kubernetes pod labels as key:value pairs"),
        f("k8s.ns.name", .string, .k8sNsName, "the Kubernetes namespace name"),
        f("k8s.pod.sa", .string, .k8sPodSa, "the Kubernetes pod's service account"),
        f("k8s.workload.name", .string, .k8sWorkloadName, "the pod's owning workload name (deployment, daemonset, ...)"),
        f("k8s.workload.kind", .string, .k8sWorkloadKind, "the pod's owning workload kind"),
        f("k8s.deployment.name", .string, .k8sWorkloadName, "the pod's deployment (owning workload) name"),
        f("k8s.node.name", .string, .k8sNodeName, "the Kubernetes node name"),
        f("static", .string, .staticField, .key, "static.NAME: the value of NAME in the configuration's static_fields (a constant string)"),
    ]

    static let byName: [String: FieldDefinition] = {
        var d: [String: FieldDefinition] = [:]
        for x in all { d[x.name] = x }
        return d
    }()

    /// Looks a field up by name, splitting dotted arguments (`evt.arg.flags`, `k8s.pod.label.app`).
    package static func lookup(_ name: String) -> (FieldDefinition, String?)? {
        if let d = byName[name] { return (d, nil) }
        // Dotted argument forms.
        var parts = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        var rest: [String] = []
        while parts.count > 1 {
            rest.insert(parts.removeLast(), at: 0)
            if let d = byName[parts.joined(separator: ".")] {
                switch d.argKind {
                case .key, .argument: return (d, rest.joined(separator: "."))
                default: return nil
                }
            }
        }
        return nil
    }
}
