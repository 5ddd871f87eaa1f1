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
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out = [UInt8](repeating: 0, count: 16)
        for i in 0..<16 { out[i] = digits[Int((v >> UInt64(60 - 4 * i)) & 0xF)] }
        return String(decoding: out, as: UTF8.self)
    }
}
