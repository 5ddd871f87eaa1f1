/// Parsed command-line words: positional words and `--name value` options (`-o` is `--output`).
struct Options {
    var positional: [String] = []
    var values: [String: String] = [:]

    init(_ args: [String]) throws {
        var i = 0
        while i < args.count {
            let a = args[i]
            if a == "-o" || a == "-f" || a.hasPrefix("--") {
                let name = a == "-o" ? "output" : a == "-f" ? "f" : String(a.dropFirst(2))
                if name == "help" { values["help"] = "true"; i += 1; continue }
                if name == "dry-run" || name == "verify" || name == "no-verify" || name == "watch" || name == "all" { values[name] = "true"; i += 1; continue }
                guard i + 1 < args.count else { throw UsageError("\(a) needs a value") }
                values[name] = args[i + 1]
                i += 2
            } else {
                positional.append(a)
                i += 1
            }
        }
    }

    func value(_ name: String) -> String? { values[name] }
    var json: Bool { values["output"] == "json" }
}

struct UsageError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
