import MeshCore
import MeshNet

extension SidecarConfig {
    /// Reads (at most 4 MiB) and parses the config file; relative paths in it resolve against its folder.
    /// Used at start and on every reload. File errors keep their `file.*` code; parse errors their own.
    public static func load(path: String) -> Result<SidecarConfig, MeshError> {
        let bytes: [UInt8]
        switch FileIO.readAll(path, limit: 4 << 20) {
        case .failure(let e): return .failure(e)
        case .success(let b): bytes = b
        }
        let dir = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        do {
            return .success(try SidecarConfig.parse(json: bytes, baseDirectory: dir.isEmpty ? "/" : dir))
        } catch let e as MeshError {
            return .failure(e)
        } catch {
            return .failure(MeshError(.configInvalid, "\(error)"))
        }
    }
}
