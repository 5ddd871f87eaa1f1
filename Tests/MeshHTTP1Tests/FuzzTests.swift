import MeshCore
import MeshHTTP1
import Testing

/// Seeded random mutations of valid messages: the parsers never crash or hang, every outcome is events or an
/// `HTTPParseError` with one of the documented statuses, and the outcome does not depend on how the bytes are
/// split.
@Suite struct FuzzTests {
    static let requests: [String] = [
        "GET /stats?verbose=1&x=%20 HTTP/1.1\r\nHost: mesh.local\r\nAccept: */*\r\n\r\n",
        "POST /v1/policy HTTP/1.1\r\nHost: cp:8443\r\nContent-Length: 11\r\nContent-Type: application/json\r\n\r\n{\"a\":[1,2]}",
        "PUT /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4;e=1\r\nwiki\r\n5\r\npedia\r\n0\r\nT: v\r\n\r\n",
        "GET /a HTTP/1.1\r\nHost: h\r\n\r\nPOST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nxyzGET /c HTTP/1.0\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    ]
    static let responses: [String] = [
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nX: y\r\n\r\nHTTP/1.0 200 OK\r\n\r\nrest",
    ]
    static let allowedStatuses: Set<Int> = [400, 413, 431, 501, 505]
    /// Bytes that matter to the grammar, drawn more often than chance would.
    static let interesting: [UInt8] = Array("\r\n \t:;0123456789aAfF-+,/?%*\u{0}\u{7F}".utf8) + [0x80, 0xFF]

    /// One to three of: flip a bit, replace, insert or delete a byte, duplicate or drop a line, truncate.
    static func mutate(_ input: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var bytes = input
        for _ in 0..<Int.random(in: 1...3, using: &rng) where !bytes.isEmpty {
            let at = Int.random(in: 0..<bytes.count, using: &rng)
            let byte = Bool.random(using: &rng) ? interesting.randomElement(using: &rng)! : UInt8.random(in: 0...255, using: &rng)
            switch Int.random(in: 0..<7, using: &rng) {
            case 0: bytes[at] ^= 1 << UInt8.random(in: 0...7, using: &rng)
            case 1: bytes[at] = byte
            case 2: bytes.insert(byte, at: at)
            case 3: bytes.remove(at: at)
            case 4:
                var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
                let chosen = Int.random(in: 0..<lines.count, using: &rng)
                lines.insert(lines[chosen], at: chosen)
                bytes = Array(lines.joined(separator: [0x0A]))
            case 5:
                var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
                lines.remove(at: Int.random(in: 0..<lines.count, using: &rng))
                bytes = Array(lines.joined(separator: [0x0A]))
            default: bytes.removeLast(Int.random(in: 0...min(8, bytes.count), using: &rng))
            }
        }
        return bytes
    }

    @Test func mutatedRequestsParseOrFailCleanly() {
        let clock = ContinuousClock()
        let start = clock.now
        var rng = SplitMix64(seed: 0x5EED_0001)
        var parsed = 0, refused = 0, codes: [String: Int] = [:]
        for n in 0..<3_000 {
            let input = Self.mutate(Array(Self.requests[n % Self.requests.count].utf8), &rng)
            let split = Split.random(seed: UInt64(n))
            let whole = parseRequest(input, finish: n % 2 == 0)
            #expect(parseRequest(input, split: split, finish: n % 2 == 0) == whole, "input \(input.text.debugDescription)")
            if n % 4 == 0 {
                #expect(parseRequest(input, split: .bytewise, finish: n % 2 == 0) == whole, "input \(input.text.debugDescription)")
            }
            switch whole {
            case .events: parsed += 1
            case .error(let e):
                refused += 1
                codes[e.code, default: 0] += 1
                #expect(Self.allowedStatuses.contains(e.status), "\(e)")
                #expect(e.code.hasPrefix("http."))
            }
        }
        #expect(parsed > 100 && refused > 1_000, "parsed \(parsed), refused \(refused)")
        #expect(codes.count >= 12, "codes seen: \(codes)")
        #expect(clock.now - start < .seconds(60))
    }

    @Test func mutatedResponsesParseOrFailCleanly() {
        let clock = ContinuousClock()
        let start = clock.now
        var rng = SplitMix64(seed: 0x5EED_0002)
        for n in 0..<2_000 {
            let input = Self.mutate(Array(Self.responses[n % Self.responses.count].utf8), &rng)
            let methods = n % 3 == 0 ? ["HEAD", "GET"] : ["GET", "GET", "GET"]
            let whole = parseResponse(input, methods: methods, finish: n % 2 == 0)
            #expect(parseResponse(input, methods: methods, split: .random(seed: UInt64(n)), finish: n % 2 == 0) == whole)
            if let e = whole.error { #expect(Self.allowedStatuses.contains(e.status), "\(e)") }
        }
        #expect(clock.now - start < .seconds(60))
    }

    @Test func randomBytesAreRefusedNotCrashedOn() {
        var rng = SplitMix64(seed: 0x5EED_0003)
        for _ in 0..<500 {
            let input = (0..<Int.random(in: 1...300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let outcome = parseRequest(input, finish: true)
            #expect(parseRequest(input, split: .random(seed: 9), finish: true) == outcome)
            #expect(outcome.error != nil || input.allSatisfy { $0 == 0x0D || $0 == 0x0A })
        }
    }
}
