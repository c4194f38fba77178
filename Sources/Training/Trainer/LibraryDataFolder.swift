import Checkpoints
import Foundation

/// An offline training-data folder in the Python speculators library's layout: a Hugging Face
/// Arrow dataset (`state.json` naming `data-XXXXX-of-XXXXX.arrow` files) with one row per
/// conversation (`input_ids`, `loss_mask` as 0/1), and `hidden_states/hs_<row>.safetensors`
/// holding that row's `hidden_states [T, A+1, H]`: the aux layers' states, then the last layer's
/// output before the final norm (docs/training-data.md, "Interchange").
struct LibraryDataFolder {
    struct Row {
        let tokens: [Int32]
        let mask: [Bool]
        let file: SafetensorsFile
    }

    let hiddenSize: Int
    let rows: [Row]

    /// A folder saved by `datasets` (`state.json`) without datagen's `index.json`.
    static func recognises(_ folder: URL) -> Bool {
        let files = FileManager.default
        return files.fileExists(atPath: folder.appendingPathComponent("state.json").path)
            && !files.fileExists(atPath: folder.appendingPathComponent("index.json").path)
    }

    init(folder: URL, auxCount: Int) throws {
        let (ids, masks) = try Self.tokenRows(folder: folder)
        var hidden = 0
        var list: [Row] = []
        for (row, (tokens, mask)) in zip(ids, masks).enumerated() {
            let url = folder.appendingPathComponent("hidden_states").appendingPathComponent("hs_\(row).safetensors")
            let file = try SafetensorsFile(url: url)
            let info = try file.requireInfo("hidden_states")
            guard info.shape.count == 3, info.shape[0] == tokens.count, info.shape[1] == auxCount + 1, info.shape[2] > 0 else {
                throw CheckpointError.shapeMismatch(file: url.path, tensor: "hidden_states",
                                                    expected: [tokens.count, auxCount + 1, hidden == 0 ? -1 : hidden], actual: info.shape)
            }
            guard [.bf16, .f16, .f32].contains(info.dataType) else {
                throw TrainingError.invalidData(path: url.path, problem: "hidden_states is \(info.dataType.rawValue); expected BF16, F16 or F32")
            }
            guard mask.count == tokens.count else {
                throw TrainingError.invalidData(path: url.path, problem: "row \(row): \(mask.count) loss_mask entries for \(tokens.count) tokens")
            }
            if hidden == 0 { hidden = info.shape[2] }
            guard info.shape[2] == hidden else {
                throw TrainingError.invalidData(path: url.path, problem: "hidden size \(info.shape[2]) differs from row 0's \(hidden)")
            }
            guard tokens.allSatisfy({ $0 >= 0 && $0 <= Int64(Int32.max) }) else {
                throw TrainingError.invalidData(path: url.path, problem: "row \(row) has a token id out of range")
            }
            list.append(Row(tokens: tokens.map { Int32($0) }, mask: mask.map { $0 != 0 }, file: file))
        }
        guard !list.isEmpty else { throw TrainingError.invalidData(path: folder.path, problem: "holds no rows") }
        hiddenSize = hidden
        rows = list
    }

    /// The folder's rows as token ids and 0/1 loss masks, from its Arrow files alone (what
    /// counting supervised tokens needs).
    static func tokenRows(folder: URL) throws -> (ids: [[Int64]], masks: [[Int64]]) {
        let statePath = folder.appendingPathComponent("state.json").path
        guard let data = FileManager.default.contents(atPath: statePath),
              let state = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
              let dataFiles = state["_data_files"] as? [[String: Any]] else {
            throw TrainingError.invalidData(path: statePath, problem: "is not a `datasets` state (no _data_files list)")
        }
        var ids: [[Int64]] = [], masks: [[Int64]] = []
        for entry in dataFiles {
            guard let name = entry["filename"] as? String, !name.contains("/") else {
                throw TrainingError.invalidData(path: statePath, problem: "a data file has no plain 'filename'")
            }
            let arrow: ArrowStream
            do { arrow = try ArrowStream(url: folder.appendingPathComponent(name)) } catch {
                throw TrainingError.invalidData(path: folder.appendingPathComponent(name).path, problem: "\(error)")
            }
            guard case .integerLists(let fileIds)? = arrow.columns["input_ids"],
                  case .integerLists(let fileMasks)? = arrow.columns["loss_mask"] else {
                throw TrainingError.invalidData(path: folder.appendingPathComponent(name).path,
                                                problem: "needs the list columns input_ids and loss_mask")
            }
            ids += fileIds
            masks += fileMasks
        }
        return (ids, masks)
    }
}
