import MeshCore

/// Request ids: 16 lowercase hex characters from a generator the loop owns (seeded from the system's
/// randomness at start; tests pass their own seed), so logs, the refusal body and the app's
/// `x-mesh-request-id` name the same request.
struct RequestIDs {
    private var rng: SplitMix64

    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    init() {
        var system = SystemRandomNumberGenerator()
        self.init(seed: system.next())
    }

    mutating func next() -> String {
        let v = rng.next()
        return String(unsafeUninitializedCapacity: 16) { out in
            for i in 0..<16 {
                let d = UInt8((v >> UInt64(60 - 4 * i)) & 0xF)
                out[i] = d < 10 ? 0x30 + d : 0x61 + d - 10
            }
            return 16
        }
    }
}
