import MeshCore

/// Each mesh service's virtual IPv4 in 240.240.0.0/16 (reserved class E space, as Istio's auto-allocation):
/// what the DNS responder answers for `<service>.<namespace>.<domain>` and what the transparent listener maps
/// back to the service. Derived from the service key alone, so both agree without sharing state, and a service
/// keeps its address across slices unless a collision moves it.
///
/// Rule: the home slot is FNV-1a-32 of `namespace/name` modulo 65,534, plus one (so neither `240.240.0.0` nor
/// `240.240.255.255` is used). The services are placed in key order; a service whose home slot is taken by one
/// placed before it takes the next free slot upwards (wrapping from 65,534 to 1).
public enum VirtualIPs {
    /// 240.240.0.0, host order.
    public static let network: UInt32 = 0xF0F0_0000
    public static let prefixLength = 16
    static let slots: UInt32 = 65_534

    /// The home slot of `service` (before any collision).
    public static func home(_ service: ServiceKey) -> UInt32 {
        var h: UInt32 = 0x811C_9DC5
        for b in "\(service.namespace)/\(service.name)".utf8 {
            h ^= UInt32(b)
            h = h &* 0x0100_0193
        }
        return network | (h % slots + 1)
    }

    /// The address of every service in `services` (at most 65,534 of them), by the collision rule above.
    public static func assign(_ services: [ServiceKey]) -> [ServiceKey: UInt32] {
        var taken = Set<UInt32>()
        var out: [ServiceKey: UInt32] = [:]
        for s in Set(services).sorted().prefix(Int(slots)) {
            var a = home(s)
            while taken.contains(a) { a = a & 0xFFFF == slots ? network | 1 : a + 1 }
            taken.insert(a)
            out[s] = a
        }
        return out
    }

    /// True for an address inside 240.240.0.0/16.
    public static func contains(_ ipv4: UInt32) -> Bool { ipv4 & 0xFFFF_0000 == network }

    /// Dotted-quad text of a host-order IPv4 address.
    public static func text(_ a: UInt32) -> String { "\(a >> 24).\(a >> 16 & 255).\(a >> 8 & 255).\(a & 255)" }
}
