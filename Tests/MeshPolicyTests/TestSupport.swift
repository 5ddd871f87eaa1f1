import MeshTestSupport
import MeshCore
import MeshPolicy
import Testing

/// The facts of one connection, spelled like the argument lists the decision functions took before facts.
func facts(_ peer: SPIFFEID, to destination: ServiceKey, port: Int, now: Double) -> ConnectionFacts {
    ConnectionFacts(peer: peer, destination: destination, port: port, now: now)
}
