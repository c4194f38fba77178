import ArgumentParser
import Foundation

/// Fails with a usage error (the option named in `message`, exit code 64) unless `condition`
/// holds: options are checked before any model is loaded, so a typo costs nothing.
func requireOption(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw ValidationError(message()) }
}

/// A comma-separated list of integers such as `--k 1,2,3`, each at least `minimum`. An entry
/// that is not a number is an error, not silently dropped.
func integerList(_ text: String, option: String, minimum: Int) throws -> [Int] {
    let entries = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
    var values: [Int] = []
    for entry in entries {
        guard let value = Int(entry), value >= minimum else {
            throw ValidationError("\(option) takes comma-separated integers of at least \(minimum); '\(entry)' is not one")
        }
        values.append(value)
    }
    return values
}

/// All of standard input as text, for the `-` arguments that read it "exactly": bytes that are
/// not UTF-8 are an error naming where they start, not replaced by U+FFFD behind the user's back.
func standardInputText() throws -> String {
    let data = FileHandle.standardInput.readDataToEndOfFile()
    if let text = String(validating: data, as: UTF8.self) { return text }
    var bytes = data.makeIterator()
    var parser = Unicode.UTF8.ForwardParser()
    var offset = 0
    while case .valid(let scalar) = parser.parseScalar(from: &bytes) { offset += scalar.count }
    throw CommandFailure("standard input is not UTF-8 text: the bytes from offset \(offset) (of \(data.count)) "
                         + "are not a valid UTF-8 sequence")
}

/// An output folder: it need not exist yet, but it must not be a file (found before any work,
/// not when the results are written).
func requireFolderPath(_ path: String, option: String) throws {
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
        throw ValidationError("\(option) \(path) is a file, not a folder")
    }
}

/// For long, resumable jobs (datagen, train): Ctrl-C or SIGTERM ends the process at once with
/// exit status 130 (143), saying what was kept, instead of dying silently. Nothing half-written is
/// left behind: shards and checkpoints are written to a temporary file and renamed into place.
/// The sources live as long as the process.
func announceInterruption(_ job: String, resume: String) {
    for (number, name) in [(SIGINT, "interrupted"), (SIGTERM, "terminated")] {
        signal(number, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
        source.setEventHandler {
            FileHandle.standardError.write(Data("\n\(job) \(name): \(resume)\n".utf8))
            exit(128 + number)
        }
        source.resume()
        interruptionSources.append(source)
    }
}

nonisolated(unsafe) private var interruptionSources: [DispatchSourceSignal] = []
