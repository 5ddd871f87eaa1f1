import MeshAPI
import MeshCore
import MeshHTTP
import MeshHTTP1
import MeshNet
import MeshTLS

/// A blocking client of the control-plane API (one request per connection, or over a shared keep-alive
/// `ControlChannel`; on the caller's thread, never on an event loop). Answers come back as `MeshAPI` wire types; a refusal comes back as the `MeshError` of its
/// error body, with the kind its code was declared with.
///
/// Addresses are tried in order, moving on only when the connection could not be made (refused, reset or timed
/// out while connecting or in the TLS handshake, each address within `connectTimeoutMs`): once a request may
/// have reached a control plane it is not sent again elsewhere (a join token is single use).
public struct ControlPlaneClient: Sendable {
    public let addresses: [SocketAddress]
    public let tls: TLSContext
    /// The SPIFFE ID the control plane must present (secure naming); nil only with `skipServerVerification`.
    public let expectServer: SPIFFEID?
    public let timeoutMs: Int
    /// Bounds an answer's body (slices can be large).
    public let maxBodyBytes: Int
    /// The operator's admin token, sent as `Authorization: Bearer …`.
    public let bearerToken: String?
    /// Only for fetching the bundle at bootstrap, whose root the caller checks against a fingerprint.
    public let skipServerVerification: Bool
    /// When set, every call goes over this shared keep-alive connection (its addresses and certificate, not
    /// `addresses` and `tls`), except a join-token issuance, which is single use and keeps a connection of its own.
    public let channel: ControlChannel?
    /// Connect + TLS handshake deadline per address without a channel (default 5 s), so a dead replica in
    /// the list costs at most this much before the next is tried; the whole call stays within `timeoutMs`.
    public var connectTimeoutMs = 5_000

    public init(addresses: [SocketAddress], tls: TLSContext, expectServer: SPIFFEID?, timeoutMs: Int = 10_000,
                maxBodyBytes: Int = 16 << 20, bearerToken: String? = nil, skipServerVerification: Bool = false,
                channel: ControlChannel? = nil) {
        precondition(!addresses.isEmpty, "a control-plane client needs an address")
        Syscall.ignoreSIGPIPE()  // a replica reset while we write is an error of the call (see ControlChannel)
        self.addresses = addresses
        self.tls = tls
        self.expectServer = expectServer
        self.timeoutMs = timeoutMs
        self.maxBodyBytes = maxBodyBytes
        self.bearerToken = bearerToken
        self.skipServerVerification = skipServerVerification
        self.channel = channel
    }

    /// A sidecar's client: the configured control plane and identity, our TLS context.
    public init(settings: BootstrapSettings, tls: TLSContext, timeoutMs: Int = 10_000, maxBodyBytes: Int = 16 << 20,
                channel: ControlChannel? = nil) throws {
        self.init(addresses: try settings.controlPlaneAddresses(), tls: tls, expectServer: settings.controlPlaneIdentity,
                  timeoutMs: timeoutMs, maxBodyBytes: maxBodyBytes, channel: channel)
    }

    /// The same client on one-shot connections (for a single-use request: a join token must never be resent).
    public var oneShot: ControlPlaneClient {
        var c = ControlPlaneClient(addresses: addresses, tls: tls, expectServer: expectServer, timeoutMs: timeoutMs,
                                   maxBodyBytes: maxBodyBytes, bearerToken: bearerToken,
                                   skipServerVerification: skipServerVerification, channel: nil)
        c.connectTimeoutMs = connectTimeoutMs
        return c
    }

    /// One exchange, whatever the status; fails over to the next address only when nothing was sent.
    public func send(_ method: String, _ path: String, body: [UInt8] = [], headers: [(String, String)] = []) throws -> HTTPClient.Response {
        var h = HTTPHeaders(headers)
        if let bearerToken { h.add("Authorization", "Bearer \(bearerToken)") }
        if !body.isEmpty { h.add("Content-Type", "application/json") }
        var limits = HTTPLimits()
        limits.maxBodyBytes = maxBodyBytes
        if let channel {
            return try channel.send(method: method, path: path, headers: h, body: body, timeoutMs: timeoutMs, limits: limits)
        }
        if h["Connection"] == nil { h.add("Connection", "close") }
        let deadline = SystemClock().monotonicMs() + Int64(timeoutMs)
        var lastError: (any Error)?
        for address in addresses {
            let connection: HTTPConnection
            do {
                // Only the connect + handshake phase moves on to the next address: no byte of the request left.
                let left = Int(max(1, deadline - SystemClock().monotonicMs()))
                connection = try HTTPConnection(connecting: address, tls: tls, expectServer: expectServer,
                                                skipServerVerification: skipServerVerification,
                                                timeoutMs: min(left, connectTimeoutMs), limits: limits)
            } catch {
                lastError = error
                continue
            }
            defer { connection.close() }
            let left = Int(max(1, deadline - SystemClock().monotonicMs()))
            return try connection.send(method: method, path: path, headers: h, body: body, timeoutMs: left)
        }
        throw lastError!
    }

    /// A 2xx answer, else the refusal it carries.
    public func exchange(_ method: String, _ path: String, body: [UInt8] = [], headers: [(String, String)] = []) throws -> HTTPClient.Response {
        let r = try send(method, path, body: body, headers: headers)
        guard (200..<300).contains(r.status) else { throw Self.refusal(r) }
        return r
    }

    /// A typed call: `request` (if any) as the body, the 2xx answer read strictly as `A`.
    public func call<A: WireMessage>(_ method: String, _ path: String, _ request: (any WireMessage)? = nil,
                                     headers: [(String, String)] = [], limits: StrictJSON.Limits = StrictJSON.Limits(),
                                     as: A.Type = A.self) throws -> A {
        let r = try exchange(method, path, body: request?.bytes ?? [], headers: headers)
        return try Self.decode(A.self, r, path: path, limits: limits)
    }

    /// An untyped call, for answers whose schema belongs to the policy model (mesh, check, audit).
    public func json(_ method: String, _ path: String, body: JSONValue? = nil, headers: [(String, String)] = []) throws -> JSONValue {
        let r = try exchange(method, path, body: body.map { Array($0.text.utf8) } ?? [], headers: headers)
        do {
            return try StrictJSON.parse(r.body, limits: StrictJSON.Limits(maxBytes: maxBodyBytes))
        } catch {
            throw MeshError(.apiUnexpectedAnswer, "\(path) answered \(r.status) with a body that is not JSON: \(error)")
        }
    }

    /// The refusal in a non-2xx answer: its error body, or, when there is none, `api.unexpected-answer`.
    static func refusal(_ r: HTTPClient.Response) -> MeshError {
        if let body = try? ErrorBody(bytes: r.body) { return body.meshError }
        return MeshError(.apiUnexpectedAnswer, "status \(r.status): \(r.text)")
    }

    /// A 2xx body that is not the answer the API promises is the control plane's fault, not the caller's.
    static func decode<A: WireMessage>(_ type: A.Type, _ r: HTTPClient.Response, path: String,
                                       limits: StrictJSON.Limits) throws -> A {
        do {
            return try A(bytes: r.body, limits: limits)
        } catch {
            throw MeshError(.apiUnexpectedAnswer, "\(path) answered \(r.status) with \(error.code): \(error.reason)")
        }
    }
}
