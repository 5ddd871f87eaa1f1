/// A session may be kept by one thread and offered by another (the control channel keeps its session under a
/// lock, and whichever caller dials next offers it). Safe: the wrapper is immutable, and OpenSSL's
/// SSL_SESSION is reference-counted under its own lock and only read once established; `SSL_set_session` takes
/// its own reference.
extension TLSSession: @unchecked Sendable {}
