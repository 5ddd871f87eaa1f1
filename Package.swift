// swift-tools-version:6.0
import PackageDescription

// The data path (every byte and request of the sidecar goes through these): release builds drop Swift's dynamic
// exclusivity checks there (a runtime call and a thread-local lookup per class-property access; ~2 % of a
// sidecar's CPU per request). Debug builds, in which every test runs, keep them.
let dataPath: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

// Layers (see DESIGN.md): L0 C shims, L1 pure core + API wire types, L2 TLS + event loop + files + observability
// + control-plane client, L3 sidecar, control plane and CLI logic, L4 thin mains.
let package = Package(
    name: "swift-mesh",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "mesh-sidecar", targets: ["mesh-sidecar"]),
        .executable(name: "mesh-dev", targets: ["mesh-dev"]),
        .executable(name: "mesh-control", targets: ["mesh-control"]),
        .executable(name: "meshctl", targets: ["meshctl"]),
    ],
    targets: [
        // L0
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .target(name: "CMeshSysShims"),
        .target(name: "CMeshOpenSSLShims", dependencies: ["COpenSSL"]),
        // L1
        .target(name: "MeshCore"),
        .target(name: "MeshAlerts", dependencies: ["MeshCore", "MeshAPI"]),
        .target(name: "MeshPolicy", dependencies: ["MeshCore", "MeshAlerts", "MeshHTTP1"], swiftSettings: dataPath),
        .target(name: "MeshHTTP1", swiftSettings: dataPath),
        .target(name: "MeshAPI", dependencies: ["MeshCore"]),
        // L2
        .target(name: "MeshTLS", dependencies: ["MeshCore", "MeshNet", "COpenSSL", "CMeshOpenSSLShims"], swiftSettings: dataPath),
        .target(name: "MeshNet", dependencies: ["MeshCore", "CMeshSysShims"], swiftSettings: dataPath),
        .target(name: "MeshObservability", dependencies: ["MeshCore", "MeshNet"]),  // on MeshNet: clock, one-write lines
        .target(name: "MeshJWT", dependencies: ["MeshCore", "MeshTLS", "MeshPolicy"]),  // end-user tokens (issue 13); MeshPolicy: issuers as slices carry them
        .target(name: "MeshHTTP", dependencies: ["MeshCore", "MeshHTTP1", "MeshNet", "MeshTLS"]),
        .target(name: "MeshEtcd", dependencies: ["MeshCore", "MeshHTTP", "MeshHTTP1", "MeshNet", "MeshTLS"]),  // etcd v3 over its JSON gateway (issue 11)
        .target(name: "MeshControlClient", dependencies: ["MeshAPI", "MeshCore", "MeshHTTP", "MeshHTTP1", "MeshNet", "MeshTLS"]),
        // L3
        .target(name: "SidecarKit", dependencies: ["MeshCore", "MeshPolicy", "MeshTLS", "MeshNet", "MeshObservability", "MeshHTTP1",
                                                  "MeshHTTP", "MeshAPI", "MeshControlClient", "MeshJWT"], swiftSettings: dataPath),
        // L4
        .executableTarget(name: "mesh-sidecar", dependencies: ["SidecarKit"]),
        .target(name: "ControlPlaneKit", dependencies: ["MeshCore", "MeshPolicy", "MeshAlerts", "MeshTLS", "MeshNet", "MeshObservability", "MeshHTTP",
                                                       "MeshHTTP1", "MeshAPI", "MeshJWT", "MeshEtcd"]),
        .target(name: "MeshCLIKit", dependencies: ["MeshCore", "MeshPolicy", "MeshAlerts", "MeshTLS", "MeshNet", "MeshHTTP", "MeshHTTP1", "MeshAPI",
                                                  "MeshControlClient", "MeshJWT"]),
        .target(name: "MeshDevKit", dependencies: ["MeshTLS", "MeshNet", "MeshCore", "MeshHTTP", "MeshHTTP1", "MeshAPI"]),
        .executableTarget(name: "mesh-dev", dependencies: ["MeshDevKit", "MeshCore"]),
        .executableTarget(name: "mesh-control", dependencies: ["ControlPlaneKit"]),
        .executableTarget(name: "meshctl", dependencies: ["MeshCLIKit"]),
        // Tests (MeshTestSupport: the shared expectMeshError and TestCA; a plain target so test targets can use it)
        .target(name: "MeshTestSupport", dependencies: ["CMeshSysShims", "MeshCore", "MeshTLS", "MeshJWT", "MeshEtcd"], path: "Tests/MeshTestSupport"),
        .testTarget(name: "MeshEtcdTests", dependencies: ["MeshEtcd", "MeshCore", "MeshNet", "MeshTLS", "MeshTestSupport"]),
        .testTarget(name: "MeshCoreTests", dependencies: ["MeshCore", "MeshTestSupport"]),
        .testTarget(name: "MeshPolicyTests", dependencies: ["MeshPolicy", "MeshAlerts", "MeshCore", "MeshTestSupport"]),
        .testTarget(name: "MeshAlertsTests", dependencies: ["MeshAlerts", "MeshAPI", "MeshCore", "MeshTestSupport"]),
        .testTarget(name: "MeshHTTP1Tests", dependencies: ["MeshHTTP1", "MeshCore"]),
        .testTarget(name: "MeshAPITests", dependencies: ["MeshAPI", "MeshCore"]),
        .testTarget(name: "MeshControlClientTests", dependencies: ["MeshControlClient", "MeshAPI", "MeshCore", "MeshHTTP", "MeshNet", "MeshTLS",
                                                                   "ControlPlaneKit"]),
        .testTarget(name: "MeshHTTPTests", dependencies: ["MeshHTTP", "MeshHTTP1", "MeshNet", "MeshTLS", "MeshCore"]),
        .testTarget(name: "MeshNetTests", dependencies: ["MeshNet", "MeshCore", "MeshTestSupport"]),
        .testTarget(name: "MeshObservabilityTests", dependencies: ["MeshObservability", "MeshNet", "MeshCore"]),
        .testTarget(name: "MeshJWTTests", dependencies: ["MeshJWT", "MeshTLS", "MeshCore", "MeshTestSupport"]),
        .testTarget(name: "MeshTLSTests", dependencies: ["MeshTLS", "MeshCore", "MeshNet", "MeshTestSupport"]),
        .testTarget(name: "SidecarTests", dependencies: ["SidecarKit", "MeshTLS", "MeshCore", "MeshPolicy", "MeshNet", "MeshObservability", "MeshHTTP1", "MeshJWT",
                                                         "mesh-sidecar", "mesh-dev", "MeshTestSupport"]),
        .testTarget(name: "MeshCLIKitTests", dependencies: ["MeshCLIKit", "MeshAPI", "MeshCore", "MeshPolicy", "MeshHTTP", "MeshHTTP1",
                                                          "MeshNet", "MeshTLS", "MeshTestSupport", "meshctl"]),
        .testTarget(name: "ControlPlaneKitTests", dependencies: ["ControlPlaneKit", "MeshAlerts", "MeshAPI", "MeshCore", "MeshPolicy", "MeshTLS", "MeshNet", "MeshHTTP",
                                                                 "MeshHTTP1", "MeshTestSupport", "MeshEtcd"]),
    ],
    swiftLanguageModes: [.v6]
)
