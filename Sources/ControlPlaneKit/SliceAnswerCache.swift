import MeshCore

/// The signed answers of one generation of slices, one per service, held encoded (the HTTP body bytes): every
/// parked poll of a service woken by a change shares the one array (copy-on-write, never written), on
/// whichever event loop its connection lives. A slice document is fixed by the store's
/// epoch, the policy version, the service and the deny-list revision (all only ever move forward), so the
/// answer signed for that key is the answer every later poll of that service gets, until one of them moves.
/// Owned by `SliceSigner`, under its lock, and emptied with every new signing key: an answer signed by a
/// previous key is never served again.
///
/// Bound: one entry per service of the newest generation, and at most `maxEntries` (the default mesh limit
/// on services); entries of an older generation are dropped when the first answer of a newer one is stored.
struct SliceAnswerCache: Sendable {
    /// What, besides the service, fixes a slice document.
    struct Generation: Sendable, Equatable {
        let epoch: String
        let version: Int
        let revision: Int
        /// The endpoint revision (`EndpointRegistry`): a slice carries its destinations' live endpoints.
        var endpoints = 0

        /// Same store, and neither the version nor the deny list older.
        func supersedes(_ other: Generation) -> Bool {
            epoch != other.epoch || (version >= other.version && revision >= other.revision && endpoints >= other.endpoints)
        }
    }

    static let maxEntries = 10_000

    private var generation: Generation?
    private var answers: [ServiceKey: [UInt8]] = [:]

    var count: Int { answers.count }

    func answer(for service: ServiceKey, in generation: Generation) -> [UInt8]? {
        self.generation == generation ? answers[service] : nil
    }

    /// Keeps `answer` unless it belongs to an older generation than the one held (a late answer of an old
    /// version never evicts the new one) or the bound is reached.
    mutating func store(_ answer: [UInt8], for service: ServiceKey, in generation: Generation) {
        if let held = self.generation, held != generation {
            guard generation.supersedes(held) else { return }
            answers.removeAll()
        }
        self.generation = generation
        guard answers[service] != nil || answers.count < Self.maxEntries else { return }
        answers[service] = answer
    }
}
