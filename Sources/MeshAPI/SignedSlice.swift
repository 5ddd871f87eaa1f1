import MeshCore

/// `GET /v1/slice` (200): a slice document signed by the control plane. The signature covers the exact bytes
/// of `document` (its UTF-8), which is carried as a string so that no re-encoding can change them; whatever
/// the slice holds, today's fields and tomorrow's, is covered without this type knowing them.
/// ```json
/// {"document": "{\"epoch\":\"9f…\",\"slice\":{\"version\":7,…}}", "signature": "3045…", "chain": "-----BEGIN CERTIFICATE-----…"}
/// ```
/// `signature` is ECDSA P-256/SHA-256 (DER, hex); `chain` is the signer's certificate chain (PEM, leaf first).
/// The same document is the sidecar's last-known-good file, checked again when it is read at start.
public struct SignedSlice: WireMessage {
    public var document: String
    public var signature: String
    public var chain: String

    /// The document is a slice (up to 64 MiB) written as a string.
    public static let limits = StrictJSON.Limits(maxBytes: 64 << 20)

    public init(document: String, signature: [UInt8], chain: String) {
        self.document = document
        self.signature = Self.hex(signature)
        self.chain = chain
    }

    public init(json: JSONValue) throws(MeshError) {
        let r = try Wire.object(json, ["document", "signature", "chain"])
        document = try r.string("document")
        signature = try r.string("signature")
        chain = try r.string("chain")
    }

    public var json: JSONValue {
        .object([("document", .string(document)), ("signature", .string(signature)), ("chain", .string(chain))])
    }

    /// The signed bytes.
    public var documentBytes: [UInt8] { Array(document.utf8) }

    /// The signature's bytes, nil when `signature` is not even-length lowercase or uppercase hex.
    public var signatureBytes: [UInt8]? {
        let digits = Array(signature.utf8)
        guard !digits.isEmpty, digits.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        var i = 0
        while i < digits.count {
            guard let hi = Self.nibble(digits[i]), let lo = Self.nibble(digits[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes { out += [digits[Int(b >> 4)], digits[Int(b & 0xf)]] }
        return String(decoding: out, as: UTF8.self)
    }
}

/// What the control plane signs: the policy store's epoch and one service's slice. The epoch (random, made
/// with the store) tells two stores apart, so a re-created store's version 1 is not taken for an old version.
public struct SliceDocument: Sendable, Equatable {
    public var epoch: String
    /// The slice, read only as far as the transport needs (`SliceAnswer`); the policy model reads the rest.
    public var slice: SliceAnswer

    public init(epoch: String, slice: SliceAnswer) {
        self.epoch = epoch
        self.slice = slice
    }

    /// Reads the signed bytes strictly: an object with exactly `epoch` (1-64 hex digits) and `slice`.
    public init(bytes: [UInt8]) throws(MeshError) {
        let json = try StrictJSON.parse(bytes, limits: SignedSlice.limits)
        let r = try Wire.object(json, ["epoch", "slice"])
        epoch = try r.string("epoch")
        guard (1...64).contains(epoch.utf8.count), epoch.utf8.allSatisfy({ SignedSlice.nibble($0) != nil }) else {
            throw MeshError(.apiBadValue, "epoch: \(epoch.debugDescription) is not 1-64 hex digits")
        }
        slice = try SliceAnswer(json: try r.node("slice").value)
    }

    /// The exact text to sign.
    public var text: String { JSONValue.object([("epoch", .string(epoch)), ("slice", slice.json)]).text }
}
