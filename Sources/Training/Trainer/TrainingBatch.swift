import Foundation
import Tensors

/// One conversation as the data generator stores it, before the EAGLE-3 shift.
public struct TrainingSample: Sendable {
    /// Verifier token ids `x_0 … x_{T−1}`.
    public var tokens: [Int]
    /// `[T, A·H]` auxiliary verifier hidden states of each position (aux ids in config order).
    public var features: [Float]
    /// `[T, H]` the verifier's last-layer output (pre final norm) of each position.
    public var lastHidden: [Float]
    public var lossMask: [Bool]

    public init(tokens: [Int], features: [Float], lastHidden: [Float], lossMask: [Bool]) {
        self.tokens = tokens
        self.features = features
        self.lastHidden = lastHidden
        self.lossMask = lossMask
    }
}

/// Shifted samples packed end to end (`training.md` §4.2–4.3): row `t` of a document holds the
/// token `x_{t+1}`, the aux state `A_t`, the verifier's last state `y_{t+1}`, the loss mask
/// `l_{t+1}` and RoPE position `t + 1`. No padding: documents are ranges of rows.
public struct TrainingBatch: Sendable {
    public let rows: Int
    public let featureWidth: Int
    public let hiddenSize: Int
    public var tokens: [Int]
    public var features: FloatBuffer
    public var lastHidden: FloatBuffer
    public var lossMask: [Bool]
    public var documents: [Range<Int>]
    /// Step-0 RoPE position of each row.
    public var positions: [Int]

    /// Shifts and packs samples. Samples shorter than 2 tokens contribute no rows.
    public init(samples: [TrainingSample], featureWidth: Int, hiddenSize: Int) throws {
        var total = 0
        for (index, sample) in samples.enumerated() {
            let t = sample.tokens.count
            guard sample.features.count == t * featureWidth, sample.lastHidden.count == t * hiddenSize,
                  sample.lossMask.count == t else {
                throw TrainingError.invalidBatch("sample \(index): \(t) tokens but \(sample.features.count) feature values (width \(featureWidth)), \(sample.lastHidden.count) last-hidden values (width \(hiddenSize)) and \(sample.lossMask.count) mask entries")
            }
            total += max(t - 1, 0)
        }
        rows = total
        self.featureWidth = featureWidth
        self.hiddenSize = hiddenSize
        features = FloatBuffer(count: total * featureWidth)
        lastHidden = FloatBuffer(count: total * hiddenSize)
        tokens = []
        lossMask = []
        positions = []
        documents = []
        tokens.reserveCapacity(total)
        var row = 0
        for sample in samples {
            let n = sample.tokens.count - 1
            guard n > 0 else { continue }
            documents.append(row..<(row + n))
            tokens.append(contentsOf: sample.tokens[1...])
            lossMask.append(contentsOf: sample.lossMask[1...])
            positions.append(contentsOf: 1...n)
            sample.features.withUnsafeBufferPointer { source in
                if let base = source.baseAddress {
                    (features.base + row * featureWidth).update(from: base, count: n * featureWidth)
                }
            }
            sample.lastHidden.withUnsafeBufferPointer { source in
                if let base = source.baseAddress {
                    (lastHidden.base + row * hiddenSize).update(from: base + hiddenSize, count: n * hiddenSize)
                }
            }
            row += n
        }
    }

    /// A batch from already-shifted packed rows (the reader fills these directly).
    public init(tokens: [Int], features: FloatBuffer, lastHidden: FloatBuffer, lossMask: [Bool], documents: [Range<Int>],
                positions: [Int], featureWidth: Int, hiddenSize: Int) throws {
        let rows = tokens.count
        guard features.count == rows * featureWidth, lastHidden.count == rows * hiddenSize, lossMask.count == rows,
              positions.count == rows else {
            throw TrainingError.invalidBatch("inconsistent packed sizes for \(rows) rows")
        }
        var next = 0
        for d in documents {
            guard d.lowerBound == next else { throw TrainingError.invalidBatch("documents must tile the rows in order") }
            next = d.upperBound
        }
        guard next == rows else { throw TrainingError.invalidBatch("documents cover \(next) of \(rows) rows") }
        self.rows = rows
        self.featureWidth = featureWidth
        self.hiddenSize = hiddenSize
        self.tokens = tokens
        self.features = features
        self.lastHidden = lastHidden
        self.lossMask = lossMask
        self.documents = documents
        self.positions = positions
    }

    /// Supervised rows.
    public var supervisedRows: Int { lossMask.reduce(0) { $0 + ($1 ? 1 : 0) } }
}
