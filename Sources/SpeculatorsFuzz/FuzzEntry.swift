import Foundation

// Coverage-guided fuzzing of everything that reads untrusted bytes (`make fuzz`,
// scripts/fuzz/run.sh).
//
// Built with `-sanitize=fuzzer,address -D FUZZING`, this target is a libFuzzer binary: its `main`
// hands control to libFuzzer's driver, which calls `fuzzOneInput` with each input, and the
// harness named by `SPECULATORS_FUZZ` runs it. A harness reports a finding by trapping
// (`oracleFailure`); libFuzzer then saves the input. Built normally (as `swift build` and
// `make test` do), the same harnesses replay saved inputs: `speculators-fuzz HARNESS FILE...`
// (scripts/fuzz/replay.sh runs the seeds and Tests/Fuzz this way in `make test`).

/// The harness `SPECULATORS_FUZZ` names, looked up once.
let fuzzedHarness: Harness = {
    let name = ProcessInfo.processInfo.environment["SPECULATORS_FUZZ"] ?? ""
    guard let harness = Harness(rawValue: name) else {
        FileHandle.standardError.write(Data("SPECULATORS_FUZZ must name a harness: \(Harness.allCases.map(\.rawValue).joined(separator: ", "))\n".utf8))
        exit(2)
    }
    return harness
}()

/// Runs one input through the harness `SPECULATORS_FUZZ` names.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    fuzzedHarness.run(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

/// A finding: the message goes to standard error and the process traps, so libFuzzer (or the
/// replay driver's caller) records the input.
func oracleFailure(_ message: @autoclosure () -> String, input: [UInt8]) -> Never {
    let preview = String(decoding: input.prefix(400), as: UTF8.self)
    FileHandle.standardError.write(Data("FINDING: \(message())\ninput (\(input.count) bytes): \(preview.debugDescription)\n".utf8))
    abort()
}

#if FUZZING
@_silgen_name("LLVMFuzzerRunDriver")
func runLibFuzzer(_ argc: UnsafeMutablePointer<CInt>,
                  _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                  _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

/// libFuzzer's driver, entered from the `main` SwiftPM gives every executable target.
@main
struct FuzzDriver {
    static func main() {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(runLibFuzzer(&argc, &argv, { data, size in fuzzOneInput(data, size) }))
    }
}
#else
/// Replays saved inputs through a harness: `speculators-fuzz HARNESS FILE|FOLDER...`.
@main
struct ReplayDriver {
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        guard let first = arguments.first, let harness = Harness(rawValue: first) else {
            print("usage: speculators-fuzz HARNESS FILE|FOLDER...   (harnesses: \(Harness.allCases.map(\.rawValue).joined(separator: ", ")))")
            exit(2)
        }
        var files: [URL] = []
        for path in arguments.dropFirst() {
            let url = URL(fileURLWithPath: path)
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
                print("no such file: \(path)")
                exit(2)
            }
            if isFolder.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
                files += names.sorted().filter { !$0.hasPrefix(".") && $0 != "README.md" }.map { url.appendingPathComponent($0) }
            } else {
                files.append(url)
            }
        }
        for file in files {
            guard let data = try? Data(contentsOf: file) else {
                print("cannot read \(file.path)")
                exit(2)
            }
            harness.run(Array(data))
        }
        print("\(harness.rawValue): \(files.count) inputs replayed, no finding")
        exit(0)
    }
}
#endif
