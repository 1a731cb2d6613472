/// Static cost estimates of compiled conditions, used to order the operands of `and` and
/// `or` cheap-first (``Program/specialize(_:type:)``).
///
/// Reordering is safe because a compiled condition is a pure function of the event: a
/// check reads fields of the event, its process, fd and container (cached per event), never
/// changes them, and an unset field makes the comparison false wherever it stands (Falco's
/// semantics); `not` negates whatever its operand computes. So `a and b` equals `b and a`
/// for every event, and evaluating the cheap operand first only skips work.
///
/// Units are rough nanoseconds of a warm extraction plus comparison on one core; with the
/// rough probabilities of ``probability(_:)`` they give each operand an expected cost; only
/// the order they induce matters.
enum CheckCost {
    /// Cost of extracting field `f` (cached per event afterwards; a level-N ancestor walks N parents).
    static func field(_ f: FieldSpec, anyAncestor: Bool) -> Int {
        var c: Int
        let level = max(f.index, 1)
        switch f.id {
        // Values in the event record.
        case .evtType, .evtDir, .evtRawres, .evtFailed, .evtIsOpenRead, .evtIsOpenWrite, .evtIsOpenExec, .evtIsOpenCreate,
             .evtIsCompat, .evtIsIoUring, .evtCpu, .evtSource, .evtPid, .evtTid, .evtNum, .evtRawtime, .threadTid, .threadVtid,
             .staticField:
            c = 1
        case .evtRes: c = 3
        case .evtArg, .evtRawarg: c = 8
        case .evtArgs: c = 60
        case .evtTime, .evtTimeS, .evtTimeIso, .evtDatetime: c = 40
        case .evtHostname: c = 4
        // The event's fd.
        case .fdNum, .fdType, .fdTypechar, .fdIno, .fdDev, .fdNlink, .fdConnected, .fdNameChanged, .fdIsServer, .fdL4proto,
             .fdSockfamily, .fdPort, .fdCport, .fdSport, .fdLport, .fdRport, .fdIp, .fdCip, .fdSip, .fdLip, .fdRip:
            c = 2
        case .fdNet, .fdCnet, .fdSnet, .fdLnet, .fdRnet: c = 3
        case .fdName, .fdNameraw: c = 4
        case .fdDirectory, .fdFilename: c = 5
        case .fdTypes: c = 20
        case .fdCipName, .fdSipName, .fdLipName, .fdRipName: c = 40
        // A stat of the target in the process's root when the inode has several links.
        case .fdSameFileAs: c = 2000
        // The event's process.
        case .procPid, .procPpid, .procCmdnargs, .procTty, .procDuration, .procStartTs, .procSid, .procVpgid, .procIsVpgidLeader,
             .procIsSidLeader, .procVpid, .procIsExeUpperLayer, .procIsExeFromMemfd, .procIsExeWritable, .procIsExe32bit,
             .procExeIno, .procExeInoCtime, .procExeInoMtime, .procExeInoCtimeDurationProcStart, .procIsEnvTruncated,
             .userUid, .userLoginuid, .groupGid:
            c = 2
        case .procName, .procExe, .procExepath, .procCwd: c = 4
        case .procCmdlenargs: c = 8
        case .procArgs, .procCmdline: c = 20
        case .threadCapEffective, .threadCapPermitted: c = 30
        case .procEnv: c = 80
        case .procLoginshellid: c = 150
        // Other processes of the table (hash lookups).
        case .procPname, .procPexe, .procPexepath, .procPpidDuration, .procPvpid, .procSname, .procVpgidName, .procVpgidExe:
            c = 10
        case .procPcmdline: c = 30
        case .procAname, .procApid, .procAexe, .procAexepath: c = 10 * level
        case .procAcmdline: c = 30 * level
        case .procAenv: c = 200
        // User and group databases.
        case .userName, .groupName, .userLoginname, .userHomedir, .userShell: c = 15
        // Container and pod metadata.
        case .containerId, .containerFullId, .containerName, .containerImage, .containerImageRepository, .containerImageTag,
             .containerImageDigest, .containerType, .containerPrivileged, .containerStartTs, .containerDuration:
            c = 5
        case .containerMounts, .containerMount, .containerMountSource, .containerMountDest, .containerMountMode,
             .containerMountRdwr, .containerMountPropagation:
            c = 30
        case .k8sPodName, .k8sPodUid, .k8sNsName, .k8sPodSa, .k8sWorkloadName, .k8sWorkloadKind, .k8sNodeName: c = 8
        case .k8sPodLabel, .k8sPodLabels: c = 20
        case .unsupported: c = 20
        }
        // Without an index, proc.aname and friends test every ancestor (a process tree is rarely deeper than this).
        if anyAncestor { c = c * 8 + 40 }
        for t in [f.t0, f.t1, f.t2] where t != 0 { c += 10 }
        return c
    }

    /// Cost of one compiled comparison: its field(s) and the test.
    static func check(_ c: Check) -> Int {
        let f = field(c.field, anyAncestor: c.anyAncestor)
        // With anyAncestor the test runs once per ancestor.
        let times = c.anyAncestor ? 8 : 1
        let test: Int
        switch c.kind {
        case .exists, .boolEq: test = 0
        case .intCmp: test = 1
        case .intIn: test = 1 + c.n / 4
        case .ip: test = 2 + c.n
        case .strEq, .strStartsWith, .strEndsWith, .strOrder: test = 2
        case .strIn: test = 5
        case .pmatch: test = 10
        case .strContains: test = 8
        case .strIContains: test = 12
        case .listIn, .listIntersects: test = 15
        case .glob: test = 20
        case .regex: test = 60
        case .field: test = 4 + field(c.other, anyAncestor: false)
        case .dnsName: test = 30 + field(c.other, anyAncestor: false)
        }
        return f + test * times
    }
}

extension CheckCost {
    /// Rough probability that comparison `c` holds for an event of its types (before `!=`
    /// negation is applied, after: the returned value includes it). Equality and set tests
    /// on names and paths are selective; flags and orderings split events more evenly.
    static func probability(_ c: Check) -> Double {
        var p: Double
        switch c.kind {
        case .exists: p = 1
        case .boolEq: p = 0.5
        case .intCmp: p = c.op == .eq ? 0.1 : 0.3
        case .intIn: p = 0.2
        case .strEq, .dnsName: p = 0.05
        case .strIn, .strEndsWith, .strContains, .strIContains, .glob, .regex, .ip: p = 0.1
        case .strStartsWith, .pmatch: p = 0.2
        case .strOrder: p = 0.5
        case .field, .listIn, .listIntersects: p = 0.3
        }
        if c.anyAncestor { p = min(0.9, p * 3) }
        if c.negate { p = 1 - p }
        // An unset value fails every comparison, `!=` included (only `exists` is about it).
        return (c.kind == .exists ? 1 : p) * probabilitySet(c.field)
    }

    /// Rough probability that field `f` has a value: variables of the environment and pod
    /// labels are mostly absent; everything else is treated as present.
    static func probabilitySet(_ f: FieldSpec) -> Double {
        switch f.id {
        case .procEnv, .procAenv: f.keyLen > 0 ? 0.1 : 0.9
        case .k8sPodLabel: 0.2
        default: 1
        }
    }
}

extension Program {
    /// Expected cost of evaluating node `n` (short-circuits included: an `and` operand runs
    /// only when the ones before it held) and the probability that it holds, treating
    /// operands as independent.
    func estimate(_ n: Int32) -> (cost: Double, p: Double) {
        let node = nodes[Int(n)]
        switch node.kind {
        case .yes: return (0, 1)
        case .no: return (0, 0)
        case .types: return (1, 0.5)
        case .check:
            let c = checks[Int(node.a)]
            return (Double(CheckCost.check(c)), CheckCost.probability(c))
        case .not:
            let (c, p) = estimate(node.a)
            return (c, 1 - p)
        case .and, .or:
            let isAnd = node.kind == .and
            // `reach`: probability that evaluation gets to the next operand.
            var cost = 0.0, reach = 1.0
            for k in 0..<Int(node.b) {
                let (c, p) = estimate(kids[Int(node.a) + k])
                cost += reach * c
                reach *= isAnd ? p : 1 - p
            }
            return (cost, isAnd ? reach : 1 - reach)
        }
    }

    /// Estimated cost of node `n` (see ``estimate(_:)``).
    func cost(_ n: Int32) -> Int { Int(estimate(n).cost.rounded()) }

    /// `operands` of an `and` (or an `or`) in evaluation order. For independent tests the
    /// expected cost is least when operands are sorted by cost over the probability that
    /// they decide the result (false for `and`, true for `or`), which puts cheap, selective
    /// tests first and negations (exceptions, `not ...`), which rarely decide an `and`, last.
    /// The sort is stable: equal keys keep the rule author's order.
    func cheapFirst(_ operands: [Int32], and: Bool) -> [Int32] {
        guard operands.count > 1 else { return operands }
        let keyed = operands.enumerated().map { (k, n) -> (key: Double, pos: Int, node: Int32) in
            let (c, p) = estimate(n)
            let decides = max(and ? 1 - p : p, 1e-6)
            return (c / decides, k, n)
        }
        return keyed.sorted { $0.key != $1.key ? $0.key < $1.key : $0.pos < $1.pos }.map(\.node)
    }
}
