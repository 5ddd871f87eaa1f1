import MeshCore
import MeshHTTP1
import Testing

/// The path a rule matches is the path the app receives: one spelling per path, ambiguity refused by code.
@Suite struct PathNormalizerTests {
    /// Expected outcome: the normalised target (path and `?query`), or the refusal code.
    enum Want: Sendable, CustomStringConvertible {
        case ok(String)
        case refused(String)
        var description: String { switch self { case .ok(let s): "ok \(s)"; case .refused(let c): "refused \(c)" } }
    }

    static let long = "/" + String(repeating: "a", count: 8191)
    static let tooLong = "/" + String(repeating: "a", count: 8192)

    static let matrix: [(String, Want)] = [
        // Already canonical.
        ("/", .ok("/")),
        ("/v1/payments", .ok("/v1/payments")),
        ("/v1/payments/", .ok("/v1/payments/")),
        ("/a:b@c!$&'()*+,;=", .ok("/a:b@c!$&'()*+,;=")),
        ("/admin;x", .ok("/admin;x")),
        // Unreserved escapes decoded, others kept with upper-case hex.
        ("/%61dmin", .ok("/admin")),
        ("/%7E%2d%2E%5f%30", .ok("/~-._0")),
        ("/a%3bb", .ok("/a%3Bb")),
        ("/a%3Bb", .ok("/a%3Bb")),
        ("/%c3%A9t%C3%a9", .ok("/%C3%A9t%C3%A9")),
        ("/%252F", .ok("/%252F")),
        ("/%25", .ok("/%25")),
        ("/a%20b", .ok("/a%20b")),
        ("/%F0%9F%98%80", .ok("/%F0%9F%98%80")),
        // Dot segments (RFC 3986 5.2.4) and merged slashes.
        ("/./", .ok("/")),
        ("/a/./b", .ok("/a/b")),
        ("/a/../b", .ok("/b")),
        ("/a/b/..", .ok("/a/")),
        ("/a/.", .ok("/a/")),
        ("/a/..", .ok("/")),
        ("/public/../admin", .ok("/admin")),
        ("/public/%2e%2e/admin", .ok("/admin")),
        ("/public/.%2E/admin", .ok("/admin")),
        ("/a/b/%2e%2e", .ok("/a/")),
        ("/a/.../b", .ok("/a/.../b")),
        ("/a/..b/.c", .ok("/a/..b/.c")),
        ("//a//b/", .ok("/a/b/")),
        ("//admin", .ok("/admin")),
        ("///", .ok("/")),
        // Query kept exactly as sent.
        ("/p?x=%2f&y=..#", .refused("http.path-fragment")),
        ("/p?x=%2f&y=/../", .ok("/p?x=%2f&y=/../")),
        ("/a/../p?", .ok("/p?")),
        ("/%41?%41", .ok("/A?%41")),
        // Refusals.
        ("", .refused("http.path-not-origin-form")),
        ("*", .refused("http.path-not-origin-form")),
        ("http://h/a", .refused("http.path-not-origin-form")),
        ("a/b", .refused("http.path-not-origin-form")),
        ("?q", .refused("http.path-not-origin-form")),
        ("/a#frag", .refused("http.path-fragment")),
        ("/a?q#frag", .refused("http.path-fragment")),
        ("/a%00b", .refused("http.path-nul")),
        ("/a\u{0}b", .refused("http.path-nul")),
        ("/a?q\u{0}", .refused("http.path-nul")),
        ("/admin%2Fx", .refused("http.path-encoded-slash")),
        ("/admin%2fx", .refused("http.path-encoded-slash")),
        ("/a%5Cb", .refused("http.path-encoded-backslash")),
        ("/a\\b", .refused("http.path-bad-char")),
        ("/a b", .refused("http.path-bad-char")),
        ("/a\"b", .refused("http.path-bad-char")),
        ("/é", .refused("http.path-bad-char")),
        ("/a%", .refused("http.path-bad-escape")),
        ("/a%4", .refused("http.path-bad-escape")),
        ("/a%G1", .refused("http.path-bad-escape")),
        ("/a%%41", .refused("http.path-bad-escape")),
        ("/%4?x", .refused("http.path-bad-escape")),
        ("/..", .refused("http.path-escapes-root")),
        ("/../admin", .refused("http.path-escapes-root")),
        ("/a/../../b", .refused("http.path-escapes-root")),
        ("/%2e%2e/etc/passwd", .refused("http.path-escapes-root")),
        ("/%C0%AE%C0%AE/admin", .refused("http.path-bad-utf8")),
        ("/%C3", .refused("http.path-bad-utf8")),
        ("/%C3/%A9", .refused("http.path-bad-utf8")),
        ("/%ED%A0%80", .refused("http.path-bad-utf8")),
        ("/%FF", .refused("http.path-bad-utf8")),
        ("/%E0%80%AF", .refused("http.path-bad-utf8")),
        (long, .ok(long)),
        (tooLong, .refused("http.path-too-long")),
    ]

    @Test(arguments: matrix) func normalises(_ input: String, _ want: Want) {
        do {
            let got = try PathNormalizer.normalize(input)
            guard case .ok(let expected) = want else {
                Issue.record("\(input.debugDescription): wanted \(want), got \(got)")
                return
            }
            #expect(got.target == expected)
        } catch {
            guard case .refused(let code) = want else {
                Issue.record("\(input.debugDescription): wanted \(want), got \(error)")
                return
            }
            #expect(error.code == code)
            #expect(error.status == (code == "http.path-too-long" ? 414 : 400))
            #expect(ErrorCode.known(code) != nil, "\(code) is declared in MeshCore")
        }
    }

    @Test func matrixIsLargeEnough() { #expect(Self.matrix.count >= 40) }

    @Test func pathAndQueryAreSeparate() throws {
        let t = try PathNormalizer.normalize(Array("/a/./%62?c=%2F".utf8))
        #expect(t == NormalizedTarget(path: "/a/b", query: "c=%2F"))
        #expect(try PathNormalizer.normalize("/a").query == nil)
    }

    @Test func encodedSlashAndBackslashCanBeKeptEncoded() throws {
        let opts = PathNormalizerOptions(keepEncodedSlash: true, keepEncodedBackslash: true)
        #expect(try PathNormalizer.normalize("/a%2fb/%5c/../c", options: opts).path == "/a%2Fb/c")
        let slashOnly = PathNormalizerOptions(keepEncodedSlash: true)
        #expect(throws: HTTPParseError.self) { try PathNormalizer.normalize("/a%5C", options: slashOnly) }
    }

    @Test func limitIsTheWholeTarget() throws {
        let opts = PathNormalizerOptions(maxBytes: 8)
        #expect(try PathNormalizer.normalize("/abc?x=1", options: opts).target == "/abc?x=1")
        do {
            _ = try PathNormalizer.normalize("/abc?x=12", options: opts)
            Issue.record("9 bytes accepted with a limit of 8")
        } catch {
            #expect(error.code == "http.path-too-long")
        }
    }

    @Test func defaultsAreStrict() {
        #expect(PathNormalizerOptions() == PathNormalizerOptions(maxBytes: 8192, keepEncodedSlash: false,
                                                                 keepEncodedBackslash: false))
    }

    /// Normalising a normalised target gives it back unchanged, over 20,000 generated targets.
    @Test func normalisingTwiceChangesNothing() throws {
        let alphabet: [String] = ["/", "/", "//", ".", "..", "a", "B", "~", "-", "_", ";", "=", ":", "@", "%2e", "%2E",
                                  "%41", "%7e", "%2f", "%5c", "%25", "%3b", "%c3%a9", "%C0%AE", "%", "%4", "?", "#",
                                  "%00", "x", "é", "!", "'"]
        let opts = [PathNormalizerOptions(), PathNormalizerOptions(keepEncodedSlash: true, keepEncodedBackslash: true)]
        var rng = SplitMix64(seed: 0x5EED_13)
        var accepted = 0
        for n in 0..<20_000 {
            var s = "/"
            for _ in 0..<Int.random(in: 0...12, using: &rng) { s += alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] }
            let o = opts[n % 2]
            guard let once = try? PathNormalizer.normalize(s, options: o) else { continue }
            accepted += 1
            let twice = try PathNormalizer.normalize(once.target, options: o)
            #expect(twice == once, "\(s.debugDescription) → \(once) → \(twice)")
            #expect(!once.path.contains("//") && !once.path.contains("/./") && !once.path.contains("/../"))
        }
        #expect(accepted > 2_000)
    }

    /// ns per normalisation of a typical 40-byte target (printed; the bound only catches a gross regression).
    @Test func costOfATypicalPath() throws {
        let target = Array("/v1/payments/%41bc/./status/../items?x=1".utf8)
        #expect(target.count == 40)
        #expect(try PathNormalizer.normalize(target).target == "/v1/payments/Abc/items?x=1")
        let rounds = 200_000
        var sink = 0
        let clock = ContinuousClock()
        let start = clock.now
        for _ in 0..<rounds { sink &+= try PathNormalizer.normalize(target).path.utf8.count }
        let elapsed = clock.now - start
        let ns = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
        print("PathNormalizer: \(Int(ns / Double(rounds))) ns per 40-byte target (\(rounds) rounds)")
        #expect(sink == rounds * 22)
        #expect(ns / Double(rounds) < 50_000)
    }
}
