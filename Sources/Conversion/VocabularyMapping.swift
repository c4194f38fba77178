import Checkpoints

/// The draft ↔ target vocabulary maps of a source checkpoint (`d2t` offsets, `t2d` mask), checked
/// against each other and completed when only one of them is present (eagle3-model.md §3).
struct VocabularyMapping {
    /// Target id of each draft id (`i + d2t[i]`).
    let draftToTarget: [Int]
    let d2t: Eagle3ConversionPlan.Origin
    let t2d: Eagle3ConversionPlan.Origin
    let note: String?

    /// nil when the source has neither map.
    static func read(from weights: TensorSource, targetVocabSize v: Int, draftVocabSize vd: Int) throws(ConversionError) -> VocabularyMapping? {
        let file = weights.description
        let hasD2T = weights.contains("d2t"), hasT2D = weights.contains("t2d")
        guard hasD2T || hasT2D else { return nil }
        do {
            var offsets: [Int64]?
            var mask: [Bool]?
            if hasD2T {
                let info = try weights.requireInfo("d2t")
                guard info.dataType.isInteger else {
                    throw ConversionError.invalidTensor(file: file, tensor: "d2t", problem: "must hold integer offsets, not \(info.dataType.rawValue)")
                }
                offsets = try weights.loadInt64("d2t")
            }
            if hasT2D {
                let info = try weights.requireInfo("t2d")
                guard info.dataType == .bool else {
                    throw ConversionError.invalidTensor(file: file, tensor: "t2d", problem: "must be BOOL, not \(info.dataType.rawValue)")
                }
                mask = try weights.loadBool("t2d")
            }
            var targets: [Int]
            if let offsets {
                guard offsets.count == vd else {
                    throw ConversionError.invalidTensor(file: file, tensor: "d2t", problem: "has \(offsets.count) entries but draft_vocab_size is \(vd)")
                }
                targets = offsets.enumerated().map { $0.offset + Int($0.element) }
            } else {
                targets = mask.map { m in m.indices.filter { m[$0] } } ?? []
            }
            for (index, target) in targets.enumerated() {
                guard target >= 0, target < v else {
                    throw ConversionError.invalidTensor(file: file, tensor: hasD2T ? "d2t" : "t2d",
                                                        problem: "maps draft id \(index) to target id \(target), outside 0..<\(v)")
                }
                if index > 0, target <= targets[index - 1] {
                    throw ConversionError.invalidTensor(file: file, tensor: "d2t",
                                                        problem: "target ids must increase strictly; draft id \(index) maps to \(target) after \(targets[index - 1])")
                }
            }
            if let mask {
                guard mask.count == v else {
                    throw ConversionError.invalidTensor(file: file, tensor: "t2d", problem: "has \(mask.count) entries but the target vocabulary has \(v)")
                }
                let selected = mask.indices.filter { mask[$0] }
                guard selected.count == vd else {
                    throw ConversionError.invalidTensor(file: file, tensor: "t2d", problem: "selects \(selected.count) target ids but draft_vocab_size is \(vd)")
                }
                guard selected == targets else {
                    throw ConversionError.invalidTensor(file: file, tensor: "t2d", problem: "does not select the same target ids as d2t")
                }
            }
            switch (offsets, mask) {
            case (_?, _?):
                return VocabularyMapping(draftToTarget: targets, d2t: .int64(source: "d2t"), t2d: .bool(source: "t2d"), note: nil)
            case (_?, nil):
                var derived = [Bool](repeating: false, count: v)
                for target in targets { derived[target] = true }
                return VocabularyMapping(draftToTarget: targets, d2t: .int64(source: "d2t"), t2d: .derivedMask(derived),
                                         note: "t2d was derived from d2t (the source has no t2d)")
            default:
                let derived = targets.enumerated().map { Int64($0.element - $0.offset) }
                return VocabularyMapping(draftToTarget: targets, d2t: .derivedOffsets(derived), t2d: .bool(source: "t2d"),
                                         note: "d2t was derived from t2d (the source has no d2t)")
            }
        } catch let error as ConversionError {
            throw error
        } catch {
            throw ConversionError.invalidTensor(file: file, tensor: "d2t/t2d", problem: "cannot be read: \(error)")
        }
    }
}
