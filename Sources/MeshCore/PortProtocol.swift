/// What a service port speaks. `tcp` (the default) is proxied as a byte stream and decided per connection;
/// `http` (HTTP/1.1) is parsed by both sidecars, decided per request, and its sidecar-to-sidecar hops pooled.
public enum PortProtocol: String, Sendable, CaseIterable, Hashable {
    case tcp, http
}
