import Foundation

/// Opens whatever holds a model's tensors:
///
/// * a `.safetensors` file;
/// * a folder with `model.safetensors.index.json` (sharded; preferred when both exist, as transformers does)
///   or `model.safetensors`;
/// * a GGUF file (recognised by its magic bytes, whatever its extension), or a folder holding exactly one
///   `.gguf` file. GGUF checkpoints are returned as their Hugging Face view (`GGUFFile.huggingFaceView()`),
///   so a model loader sees the same names and layouts as for safetensors.
public func openCheckpoint(_ url: URL) throws -> TensorSource {
    let path = url.path
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw CheckpointError.unreadable(file: path, problem: "no such file or folder")
    }
    if isDirectory.boolValue {
        let index = url.appendingPathComponent(ShardedSafetensors.indexFileName)
        if FileManager.default.fileExists(atPath: index.path) { return try ShardedSafetensors(indexURL: index) }
        let single = url.appendingPathComponent("model.safetensors")
        if FileManager.default.fileExists(atPath: single.path) { return try SafetensorsFile(url: single) }
        let contents = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        let ggufs = contents.filter { $0.lowercased().hasSuffix(".gguf") }.sorted()
        if ggufs.count == 1 { return try openCheckpointFile(url.appendingPathComponent(ggufs[0])) }
        if ggufs.count > 1 {
            throw CheckpointError.unrecognised(path: path, problem: "the folder holds several GGUF files (\(ggufs.joined(separator: ", "))); name one")
        }
        throw CheckpointError.unrecognised(path: path, problem: "the folder has neither \(ShardedSafetensors.indexFileName) nor model.safetensors nor a .gguf file")
    }
    return try openCheckpointFile(url)
}

private func openCheckpointFile(_ url: URL) throws -> TensorSource {
    if try fileStartsWithGGUFMagic(url) { return try GGUFFile(url: url).huggingFaceView() }
    return try SafetensorsFile(url: url)
}

/// True when the first four bytes are "GGUF".
func fileStartsWithGGUFMagic(_ url: URL) throws -> Bool {
    guard let handle = FileHandle(forReadingAtPath: url.path) else {
        throw CheckpointError.unreadable(file: url.path, problem: "cannot open")
    }
    defer { try? handle.close() }
    let head = (try? handle.read(upToCount: 4)) ?? nil
    return head.map { Array($0) == Array("GGUF".utf8) } ?? false
}
