import MeshAPI

/// Each loop's edge table: written when a connection ends, on the loop's thread only (no lock on the data
/// path), swapped out whole by the reporter through the loop's own `execute`.
extension LoopContext {
    /// One ended connection. The live-keys gauge moves only when a key is added.
    func recordEdge(_ key: EdgeKey, bytesToDestination: Int, bytesToCaller: Int, handshakeUs: Int?, durationUs: Int) {
        guard edges != nil else { return }
        let before = edges!.count
        edges!.record(key, bytesToDestination: bytesToDestination, bytesToCaller: bytesToCaller, handshakeUs: handshakeUs,
                      durationUs: durationUs)
        if edges!.count != before { sidecar.stats.telemetryLiveEdges.add(edges!.count - before, ordering: .relaxed) }
    }

    /// Hands the table over and starts an empty one (on the loop's thread, or after the loop stopped).
    func takeEdges() -> EdgeTable? {
        guard let table = edges else { return nil }
        edges = EdgeTable(cap: table.cap)
        sidecar.stats.telemetryLiveEdges.subtract(table.count, ordering: .relaxed)
        return table
    }
}
