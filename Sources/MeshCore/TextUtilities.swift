/// Small text helpers shared by every layer (pure: no clock, no I/O).

/// Durations on command lines: `30s`, `5m`, `24h`, `2d`, or plain seconds.
public enum DurationText {
    /// Seconds; throws `MeshError(.usage, …)` for anything else, for non-finite values and beyond `max`.
    public static func seconds(_ text: String, max: Double = 10 * 365 * 86_400) throws(MeshError) -> Double {
        var t = text
        var unit = 1.0
        if let last = t.last, !last.isNumber {
            switch last {
            case "s": unit = 1
            case "m": unit = 60
            case "h": unit = 3600
            case "d": unit = 86_400
            default: throw MeshError(.usage, "bad duration \(text.debugDescription): use 30s, 5m, 24h or 2d")
            }
            t.removeLast()
        }
        guard let v = Double(t), v.isFinite, v > 0 else { throw MeshError(.usage, "bad duration \(text.debugDescription)") }
        guard v * unit <= max else { throw MeshError(.usage, "duration \(text) is longer than \(Int(max)) s") }
        return v * unit
    }
}

extension JSONValue {
    /// `s` as a JSON string literal, quotes included.
    public static func quoted(_ s: String) -> String {
        var out = ""
        quote(s, into: &out)
        return out
    }
}

extension String {
    /// Without leading and trailing characters from `set`.
    public func trimming(_ set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s.removeFirst() }
        while let l = s.last, set.contains(l) { s.removeLast() }
        return String(s)
    }
}
