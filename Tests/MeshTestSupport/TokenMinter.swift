import Foundation
import MeshCore
import MeshJWT
import MeshTLS

/// Shared by the JWT, sidecar and meshctl tests. Keys made and tokens signed at test time with the `openssl` command line, so the verifier is checked
/// against an independent signer: P-256, RSA 2048, Ed25519, a second P-256 key (the "other signer"), RSA 1024.
public final class TokenMinter: Sendable {
    public static let shared = try! TokenMinter()

    public let dir: URL

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("meshjwt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: false)
        try run(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path("ec.pem")])
        try run(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path("ec-other.pem")])
        try run(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", path("rsa.pem")])
        try run(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-out", path("rsa1024.pem")])
        try run(["genpkey", "-algorithm", "ED25519", "-out", path("ed.pem")])
    }

    deinit { try? FileManager.default.removeItem(at: dir) }

    public func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    @discardableResult
    public func run(_ args: [String]) throws -> Data {
        let r = try ChildProcess.run("/usr/bin/env", ["openssl"] + args)
        guard r.status == 0 else {
            throw MeshError(ErrorCode("test.openssl", .internal), "openssl \(args.joined(separator: " ")) failed: \(r.stderr)")
        }
        return Data(r.stdout.utf8)
    }

    /// The DER SubjectPublicKeyInfo of key file `name`.
    public func publicDER(_ name: String) throws -> [UInt8] {
        let out = path(UUID().uuidString + ".der")
        try run(["pkey", "-in", path(name), "-pubout", "-outform", "DER", "-out", out])
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: out)))
    }

    /// The public JWK of key file `name`, as JSON.
    public func jwk(_ name: String, kid: String, extra: String = "") throws -> JSONValue {
        let der = try publicDER(name)
        let text: String
        if name.hasPrefix("ec") {
            let xy = der.suffix(64)
            text = #"{"kty":"EC","crv":"P-256","kid":"\#(kid)","x":"\#(Base64URL.encode(xy.prefix(32)))","y":"\#(Base64URL.encode(xy.suffix(32)))"\#(extra)}"#
        } else if name.hasPrefix("ed") {
            text = #"{"kty":"OKP","crv":"Ed25519","kid":"\#(kid)","x":"\#(Base64URL.encode(der.suffix(32)))"\#(extra)}"#
        } else {
            let printed = String(decoding: try run(["rsa", "-in", path(name), "-noout", "-modulus"]), as: UTF8.self)
            let hex = printed.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "Modulus=", with: "")
            text = #"{"kty":"RSA","kid":"\#(kid)","n":"\#(Base64URL.encode(Self.bytes(hex: hex)))","e":"AQAB"\#(extra)}"#
        }
        return try StrictJSON.parse(Array(text.utf8))
    }

    public func key(_ name: String, kid: String) throws -> JWK { try JWK.parse(jwk(name, kid: kid)) }

    /// Signature of `input` by key file `name`: JOSE form (raw r‖s for EC) unless `derECDSA`.
    public func sign(_ input: String, with name: String, derECDSA: Bool = false) throws -> [UInt8] {
        let id = UUID().uuidString
        try Data(input.utf8).write(to: URL(fileURLWithPath: path(id + ".in")))
        if name.hasPrefix("ed") {
            try run(["pkeyutl", "-sign", "-inkey", path(name), "-rawin", "-in", path(id + ".in"), "-out", path(id + ".sig")])
        } else {
            try run(["dgst", "-sha256", "-sign", path(name), "-out", path(id + ".sig"), path(id + ".in")])
        }
        let sig = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path(id + ".sig"))))
        return name.hasPrefix("ec") && !derECDSA ? Self.rawECDSA(der: sig) : sig
    }

    /// HMAC-SHA256 of `input` keyed with `key` (the "HS256 with the public key" attack).
    public func hmac(_ input: String, key: [UInt8]) throws -> [UInt8] {
        let id = UUID().uuidString
        try Data(input.utf8).write(to: URL(fileURLWithPath: path(id + ".in")))
        let hexKey = key.map { String(format: "%02x", $0) }.joined()
        try run(["dgst", "-sha256", "-mac", "HMAC", "-macopt", "hexkey:\(hexKey)", "-binary", "-out", path(id + ".mac"),
                 path(id + ".in")])
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: path(id + ".mac"))))
    }

    /// A compact token: header and claims as JSON text, signed by `name` (nil: empty signature).
    public func token(header: String, claims: String, signer name: String?, derECDSA: Bool = false) throws -> String {
        let input = Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(Array(claims.utf8))
        let sig = try name.map { try sign(input, with: $0, derECDSA: derECDSA) } ?? []
        return input + "." + Base64URL.encode(sig)
    }

    public static func bytes(hex: String) -> [UInt8] {
        var out = [UInt8]()
        var chars = Array(hex.utf8)[...]
        while chars.count >= 2 {
            out.append(UInt8(String(decoding: chars.prefix(2), as: UTF8.self), radix: 16)!)
            chars = chars.dropFirst(2)
        }
        return out
    }

    /// DER `ECDSA-Sig-Value` to 64-byte r‖s (test side; short forms only, as P-256 signatures are).
    public static func rawECDSA(der: [UInt8]) -> [UInt8] {
        var i = 2
        func integer() -> [UInt8] {
            let len = Int(der[i + 1])
            let value = Array(der[(i + 2)..<(i + 2 + len)].drop { $0 == 0 })
            i += 2 + len
            return [UInt8](repeating: 0, count: 32 - value.count) + value
        }
        return integer() + integer()
    }
}
