import MeshCore

/// The one question of a DNS query, as the responder needs it.
struct DNSQuestion: Equatable {
    /// Labels in order, ASCII-lowercased (`["payments", "shop", "mesh", "local"]`).
    let labels: [String]
    let type: UInt16
    let qclass: UInt16
}

/// A parsed DNS query: header fields, the question, and where the question's bytes end (an answer copies them).
struct DNSQuery {
    let id: UInt16
    /// Recursion desired (copied into the answer).
    let recursionDesired: Bool
    let question: DNSQuestion
    /// Offset just past the question section.
    let questionEnd: Int
}

/// Strict DNS message parsing (RFC 1035): every read bounds-checked, compression pointers followed only
/// backwards (each before the last) and at most `maxPointerJumps` times (no loops), names at most 255 bytes, labels 63, only plain and
/// pointer label types. Failures are `dns.malformed`.
enum DNSWire {
    static let headerBytes = 12
    /// Largest query accepted (DNS flag day 2020's EDNS buffer size); larger datagrams are dropped.
    static let maxQueryBytes = 1_232
    /// Largest answer relayed from the upstream resolver (EDNS answers up to 4 KiB).
    static let maxAnswerBytes = 4_096
    static let maxNameBytes = 255
    static let maxLabelBytes = 63
    static let maxPointerJumps = 16

    static let typeA: UInt16 = 1
    static let typeAAAA: UInt16 = 28
    static let classIN: UInt16 = 1

    static func u16(_ b: [UInt8], _ at: Int) throws(MeshError) -> UInt16 {
        guard at >= 0, at + 2 <= b.count else { throw MeshError(.dnsMalformed, "truncated at byte \(at)") }
        return UInt16(b[at]) << 8 | UInt16(b[at + 1])
    }

    /// The name at `offset`: its labels (lowercased) and the offset after it in the message (after the first
    /// pointer, when there is one).
    static func name(_ b: [UInt8], at offset: Int) throws(MeshError) -> (labels: [String], next: Int) {
        var labels: [String] = []
        var pos = offset
        var next: Int?
        var jumps = 0
        var segmentStart = offset
        var total = 1  // the root's zero byte
        while true {
            guard pos < b.count else { throw MeshError(.dnsMalformed, "name runs past the end at byte \(pos)") }
            let len = Int(b[pos])
            switch len & 0xC0 {
            case 0xC0:
                guard pos + 1 < b.count else { throw MeshError(.dnsMalformed, "truncated compression pointer at byte \(pos)") }
                let target = (len & 0x3F) << 8 | Int(b[pos + 1])
                // Only backwards, to before where the part of the name being read started: targets strictly
                // decrease, so no loop can form.
                guard target < segmentStart, target >= headerBytes else { throw MeshError(.dnsMalformed, "compression pointer at byte \(pos) does not point backwards") }
                jumps += 1
                guard jumps <= maxPointerJumps else { throw MeshError(.dnsMalformed, "more than \(maxPointerJumps) compression pointers in one name") }
                if next == nil { next = pos + 2 }
                pos = target
                segmentStart = target
            case 0x00:
                if len == 0 { return (labels, next ?? pos + 1) }
                guard pos + 1 + len <= b.count else { throw MeshError(.dnsMalformed, "label runs past the end at byte \(pos)") }
                total += len + 1
                guard total <= maxNameBytes else { throw MeshError(.dnsMalformed, "name longer than \(maxNameBytes) bytes") }
                var label = ""
                label.unicodeScalars.reserveCapacity(len)
                for c in b[(pos + 1)..<(pos + 1 + len)] {
                    let lower = c >= 65 && c <= 90 ? c + 32 : c
                    label.unicodeScalars.append(Unicode.Scalar(lower))
                }
                labels.append(label)
                pos += 1 + len
            default:
                throw MeshError(.dnsMalformed, "label type 0x\(String(len & 0xC0, radix: 16)) at byte \(pos) is not supported")
            }
        }
    }

    /// A standard query with exactly one question (an EDNS OPT record may follow; it is not read).
    static func query(_ b: [UInt8]) throws(MeshError) -> DNSQuery {
        guard b.count >= headerBytes else { throw MeshError(.dnsMalformed, "shorter than a header (\(b.count) bytes)") }
        guard b.count <= maxQueryBytes else { throw MeshError(.dnsMalformed, "query of \(b.count) bytes (at most \(maxQueryBytes))") }
        let flags = try u16(b, 2)
        guard flags & 0x8000 == 0 else { throw MeshError(.dnsMalformed, "a response, not a query") }
        guard (flags >> 11) & 0xF == 0 else { throw MeshError(.dnsMalformed, "opcode \((flags >> 11) & 0xF) is not QUERY") }
        let qd = try u16(b, 4), an = try u16(b, 6), ns = try u16(b, 8), ar = try u16(b, 10)
        guard qd == 1, an == 0, ns == 0, ar <= 1 else {
            throw MeshError(.dnsMalformed, "counts \(qd)/\(an)/\(ns)/\(ar): one question and nothing else expected")
        }
        let (labels, next) = try name(b, at: headerBytes)
        let type = try u16(b, next)
        let qclass = try u16(b, next + 2)
        return DNSQuery(id: try u16(b, 0), recursionDesired: flags & 0x0100 != 0,
                        question: DNSQuestion(labels: labels, type: type, qclass: qclass), questionEnd: next + 4)
    }

    /// An answer to `query` (whose bytes are `b`): the question copied, then one A record per address.
    /// `rcode` 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN.
    static func answer(to query: DNSQuery, in b: [UInt8], rcode: UInt16, addresses: [UInt32], ttl: UInt32, authoritative: Bool) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(query.questionEnd + addresses.count * 16)
        func put16(_ v: UInt16) { out.append(UInt8(v >> 8)); out.append(UInt8(v & 0xFF)) }
        put16(query.id)
        put16(0x8000 | (authoritative ? 0x0400 : 0) | (query.recursionDesired ? 0x0100 : 0) | 0x0080 | rcode)
        put16(1)
        put16(UInt16(addresses.count))
        put16(0)
        put16(0)
        out.append(contentsOf: b[headerBytes..<query.questionEnd])
        for a in addresses {
            put16(0xC000 | UInt16(headerBytes))  // the question's name
            put16(typeA)
            put16(classIN)
            put16(UInt16(ttl >> 16))
            put16(UInt16(ttl & 0xFFFF))
            put16(4)
            out.append(contentsOf: [UInt8(a >> 24), UInt8(a >> 16 & 255), UInt8(a >> 8 & 255), UInt8(a & 255)])
        }
        return out
    }
}
