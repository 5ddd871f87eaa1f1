#if canImport(Glibc)
import Glibc
#endif
import MeshCore
import MeshHTTP
import MeshNet
import MeshTLS

/// `mesh-dev simulate`: N simulated sidecars in one process against one control plane (issue 9's ingestion
/// load, issue 11's scale): setup (mesh, tokens, certificates through the API), connect (paced), drive (long
/// polls, reports, renewals; one policy change half-way to measure propagation), report.
enum SimulateCommand {
    static func run(_ args: [String]) -> Int32 {
        let o: SimOptions
        do { o = try SimOptions.parse(args) } catch {
            DevCommand.err("mesh-dev simulate: \(error)\n\n\(DevCommand.usage)")
            return 64
        }
        Syscall.ignoreSIGPIPE()
        // One descriptor per sidecar, plus the loops, the setup clients and files.
        let fdLimit = FileLimit.raiseOpenFiles(to: o.sidecars + 256)
        if fdLimit < o.sidecars + 256 {
            DevCommand.err("mesh-dev simulate: warning: open-file limit \(fdLimit) is below \(o.sidecars + 256); raise ulimit -Hn")
        }
        var spawned: SpawnedControlPlane?
        var succeeded = false
        defer { spawned?.stop(removeFolder: succeeded) }
        do {
            let td = try TrustDomain(o.trustDomain)
            let server: String, bundlePath: String, tokenPath: String
            if o.spawn {
                // Room for every sidecar (connections and parked polls) whatever N is.
                var extra: [String] = []
                if o.sidecars + 512 > 16_384 { extra += ["--max-connections", "\(o.sidecars + 512)"] }
                if o.sidecars + 256 > 12_288 { extra += ["--max-long-polls", "\(o.sidecars + 256)"] }
                let cp = try SpawnedControlPlane(extraArgs: extra)
                spawned = cp
                server = "127.0.0.1:\(cp.port)"
                bundlePath = "\(cp.dataDir)/bundle.pem"
                tokenPath = "\(cp.dataDir)/admin.token"
            } else {
                server = o.server!
                bundlePath = o.bundleFile ?? "\(o.dataDir!)/bundle.pem"
                tokenPath = o.tokenFile ?? "\(o.dataDir!)/admin.token"
            }
            let pid = o.controlPid ?? spawned?.pid
            let address = try SocketAddress(HostPort(parsing: server))
            let bundle = try Certificate.parseChain(pem: try FileIO.readAll(bundlePath, limit: 1 << 20).get(), maxCount: 64)
            let admin = String(decoding: try FileIO.readAll(tokenPath, limit: 4096).get(), as: UTF8.self)
                .split(separator: "\n").first.map(String.init) ?? ""
            let cpID = try SPIFFEID.workload("spiffe://\(td.name)/ns/mesh-system/sa/mesh-control")
            let client = HTTPClient(address: address, tls: try TLSContext.client(trusting: bundle, trustDomain: td),
                                    expectServer: cpID, timeoutMs: 30_000)
            let setup = SimSetup(client: client, adminToken: admin, bundle: bundle, trustDomain: td)
            let clock = SystemClock()

            let t0 = clock.monotonicMs()
            var random = SystemRandomNumberGenerator()
            let run = String(random.next() & 0xFFFF_FFFF, radix: 16)
            _ = try setup.applyMesh(services: o.services, generation: "\(run)-1")
            let credentials = try setup.issue(plan: o.plan, threads: o.issueThreads)
            let setupMs = clock.monotonicMs() - t0
            let issued = credentials.reduce(0) { $0 + $1.count }

            let driver = SimDriver(options: o, address: address, serverID: cpID, bundle: bundle, trustDomain: td)
            let atConnect = pid.flatMap { ProcessUsage.read(pid: $0) }
            let t1 = clock.monotonicMs()
            let threads = try driver.start(credentials: credentials)
            // Connected: every sidecar opened its connection and got its first slice.
            while clock.monotonicMs() - t1 < o.connectTimeoutMs
                    && (driver.stats.connected.load(ordering: .relaxed) < o.sidecars
                        || driver.stats.pollsAnswered.load(ordering: .relaxed) < o.sidecars) {
                usleep(50_000)
            }
            let connectMs = clock.monotonicMs() - t1

            let before = pid.flatMap { ProcessUsage.read(pid: $0) }
            let driveStart = clock.monotonicMs()
            var applyError: String?
            // The drive's two scripted events, in time order: the policy change, and the renewal storm if asked.
            // The policy change goes to `--apply-server` when given (another replica), else to the server.
            let applier = try o.applyServer.map { s in
                SimSetup(client: HTTPClient(address: try SocketAddress(HostPort(parsing: s)),
                                            tls: try TLSContext.client(trusting: bundle, trustDomain: td),
                                            expectServer: cpID, timeoutMs: 30_000),
                         adminToken: admin, bundle: bundle, trustDomain: td)
            } ?? setup
            var events: [(at: Int64, act: () -> Void)] = [(o.propagateAtMs ?? o.durationMs / 2, {
                do {
                    _ = try applier.applyMesh(services: o.services, generation: "\(run)-2") { expected in
                        driver.stats.appliedAtNs.store(clock.monotonicNs(), ordering: .releasing)
                        driver.stats.targetVersion.store(expected, ordering: .releasing)
                    }
                } catch {
                    applyError = "\(error)"
                    driver.stats.error("sim.setup: apply")
                }
            })]
            if let storm = o.stormAtMs { events.append((storm, { driver.storm() })) }
            for e in events.sorted(by: { $0.at < $1.at }) {
                sleepUntil(driveStart + e.at, clock)
                e.act()
            }
            sleepUntil(driveStart + o.durationMs, clock)
            let after = pid.flatMap { ProcessUsage.read(pid: $0) }
            let driveMs = clock.monotonicMs() - driveStart
            driver.stop(threads)

            let result = SimResult(options: o, stats: driver.stats, certificates: issued, setupMs: setupMs, connectMs: connectMs,
                                   driveMs: driveMs, atConnect: atConnect, before: before, after: after, applyError: applyError, controlPid: pid)
            DevCommand.out(o.json ? result.json.text : result.text)
            succeeded = true
            return 0
        } catch {
            DevCommand.err("mesh-dev simulate: \(error)")
            if let s = spawned { DevCommand.err("control plane log: \(s.dir)/control.log") }
            return 70
        }
    }

    static func sleepUntil(_ ms: Int64, _ clock: SystemClock) {
        while true {
            let left = ms - clock.monotonicMs()
            if left <= 0 { return }
            usleep(UInt32(min(left, 200) * 1000))
        }
    }
}
