// swift-tools-version:6.0
import PackageDescription

// Layers (see DESIGN.md): L0 C shims, L1 pure core, L2 TLS + event loop, L3 sidecar logic, L4 thin mains.
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
        .target(name: "CMeshShims", dependencies: ["COpenSSL"]),
        // L1
        .target(name: "MeshCore"),
        .target(name: "MeshHTTP1"),
        // L2
        .target(name: "MeshTLS", dependencies: ["MeshCore", "MeshNet", "COpenSSL", "CMeshShims"]),
        .target(name: "MeshNet", dependencies: ["MeshCore", "CMeshShims"]),
        .target(name: "MeshHTTP", dependencies: ["MeshCore", "MeshHTTP1", "MeshNet", "MeshTLS"]),
        // L3
        .target(name: "SidecarKit", dependencies: ["MeshCore", "MeshTLS", "MeshNet", "MeshHTTP1", "MeshHTTP"]),
        // L4
        .executableTarget(name: "mesh-sidecar", dependencies: ["SidecarKit"]),
        .target(name: "ControlPlaneKit", dependencies: ["MeshCore", "MeshTLS", "MeshNet", "MeshHTTP", "MeshHTTP1"]),
        .target(name: "MeshCLIKit", dependencies: ["MeshCore", "MeshTLS", "MeshNet", "MeshHTTP", "MeshHTTP1"]),
        .target(name: "MeshDevKit", dependencies: ["SidecarKit", "MeshTLS", "MeshNet", "MeshCore", "MeshHTTP", "MeshHTTP1"]),
        .executableTarget(name: "mesh-dev", dependencies: ["MeshDevKit", "MeshCore"]),
        .executableTarget(name: "mesh-control", dependencies: ["ControlPlaneKit"]),
        .executableTarget(name: "meshctl", dependencies: ["MeshCLIKit"]),
        // Tests
        .testTarget(name: "MeshCoreTests", dependencies: ["MeshCore"]),
        .testTarget(name: "MeshHTTP1Tests", dependencies: ["MeshHTTP1"]),
        .testTarget(name: "MeshHTTPTests", dependencies: ["MeshHTTP", "MeshHTTP1", "MeshNet", "MeshTLS", "MeshCore"]),
        .testTarget(name: "MeshTLSTests", dependencies: ["MeshTLS", "MeshCore", "MeshNet"]),
        .testTarget(name: "SidecarTests", dependencies: ["SidecarKit", "MeshTLS", "MeshCore", "MeshNet", "mesh-sidecar", "mesh-dev"]),
        .testTarget(name: "ControlPlaneKitTests", dependencies: ["ControlPlaneKit", "MeshCore", "MeshTLS", "MeshNet", "MeshHTTP", "MeshHTTP1"]),
    ],
    swiftLanguageModes: [.v6]
)
