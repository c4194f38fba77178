import Dispatch

/// Float32 conversion of GGUF tensor data: the plain float types and ggml's block-quantised types.
///
/// Every kernel computes each value with the same float32 operations, in the same order, as ggml's reference
/// `dequantize_row_*` (and gguf-py's numpy port): scales are float16 widened exactly, `d * q + m` and
/// `(d * sc) * q - (dmin * m)` are evaluated unfused, so results are bit-identical. Block layouts are those of
/// ggml-common.h; quantised rows never share a block, so rows can be dequantised independently (which lets us
/// permute rows for free and split a tensor across threads).
enum Dequantizer {
    static func isSupported(_ dataType: TensorDataType) -> Bool {
        switch dataType {
        case .f32, .f16, .bf16, .f64, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K: return true
        default: return false
        }
    }

    /// Dequantises `count` contiguous elements (a whole number of blocks).
    static func dequantize(_ dataType: TensorDataType, from source: UnsafeRawPointer, count: Int,
                           to destination: UnsafeMutablePointer<Float>) {
        switch dataType {
        case .f32, .f16, .bf16, .f64:
            HalfPrecision.convert(dataType, from: source, count: count, to: destination)
        case .q4_0: forEachBlock(source, count, 32, 18, destination, q4_0)
        case .q4_1: forEachBlock(source, count, 32, 20, destination, q4_1)
        case .q5_0: forEachBlock(source, count, 32, 22, destination, q5_0)
        case .q5_1: forEachBlock(source, count, 32, 24, destination, q5_1)
        case .q8_0: forEachBlock(source, count, 32, 34, destination, q8_0)
        case .q2_K: forEachBlock(source, count, 256, 84, destination, q2_K)
        case .q3_K: forEachBlock(source, count, 256, 110, destination, q3_K)
        case .q4_K: forEachBlock(source, count, 256, 144, destination, q4_K)
        case .q5_K: forEachBlock(source, count, 256, 176, destination, q5_K)
        case .q6_K: forEachBlock(source, count, 256, 210, destination, q6_K)
        default: destination.update(repeating: .nan, count: count)  // callers check isSupported first
        }
    }

    /// Pointers handed to worker threads; each thread writes a disjoint set of rows.
    private struct Job: @unchecked Sendable {
        let source: UnsafeRawPointer
        let destination: UnsafeMutablePointer<Float>
    }

    /// Dequantises a `rows × rowLength` tensor. Row `r` of the source lands in row `rowOrder(r)` of the
    /// destination (identity when nil). Large tensors are split across threads.
    static func dequantizeRows(_ dataType: TensorDataType, from source: UnsafeRawPointer, rows: Int, rowLength: Int,
                               to destination: UnsafeMutablePointer<Float>, rowOrder: (@Sendable (Int) -> Int)?) {
        guard rows > 0, rowLength > 0, let type = GGMLType.from(dataType) else { return }
        let rowBytes = rowLength / type.blockSize * type.blockBytes
        let job = Job(source: source, destination: destination)
        let work: @Sendable (Int, Int) -> Void = { first, end in
            if let rowOrder {
                for row in first..<end {
                    dequantize(dataType, from: job.source + row * rowBytes, count: rowLength,
                               to: job.destination + rowOrder(row) * rowLength)
                }
            } else {
                dequantize(dataType, from: job.source + first * rowBytes, count: (end - first) * rowLength,
                           to: job.destination + first * rowLength)
            }
        }
        let elements = rows * rowLength
        let chunkElements = 1 << 18
        let chunks = min(rows, max(1, elements / chunkElements))
        if chunks == 1 { work(0, rows); return }
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            work(rows * chunk / chunks, rows * (chunk + 1) / chunks)
        }
    }

    // MARK: - Block kernels

    @inline(__always)
    private static func forEachBlock(_ source: UnsafeRawPointer, _ count: Int, _ blockSize: Int, _ blockBytes: Int,
                                     _ destination: UnsafeMutablePointer<Float>,
                                     _ kernel: (UnsafePointer<UInt8>, UnsafeMutablePointer<Float>) -> Void) {
        let bytes = source.assumingMemoryBound(to: UInt8.self)
        for block in 0..<(count / blockSize) {
            kernel(bytes + block * blockBytes, destination + block * blockSize)
        }
    }

    @inline(__always)
    private static func half(_ block: UnsafePointer<UInt8>, _ offset: Int) -> Float {
        HalfPrecision.f16ToF32(UInt16(block[offset]) | UInt16(block[offset + 1]) << 8)
    }

    /// Q4_0: f16 d, 16 bytes of nibbles. Element j is the low nibble of byte j, element j+16 the high nibble;
    /// value = d · (q − 8).
    @inline(__always)
    private static func q4_0(_ block: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>) {
        let d = half(block, 0)
        let qs = block + 2
        for j in 0..<16 {
            y[j] = d * Float(Int32(qs[j] & 0x0F) - 8)
            y[j + 16] = d * Float(Int32(qs[j] >> 4) - 8)
        }
    }

    /// Q4_1: f16 d, f16 m, 16 bytes of nibbles; value = d · q + m.
    @inline(__always)
    private static func q4_1(_ block: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>) {
        let d = half(block, 0)
        let m = half(block, 2)
        let qs = block + 4
        for j in 0..<16 {
            y[j] = d * Float(qs[j] & 0x0F) + m
            y[j + 16] = d * Float(qs[j] >> 4) + m
        }
    }

    /// Q5_0: f16 d, u32 qh (bit j = fifth bit of element j), 16 bytes of nibbles; value = d · (q − 16).
    @inline(__always)
    private static func q5_0(_ block: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>) {
        let d = half(block, 0)
        let qh = UInt32(block[2]) | UInt32(block[3]) << 8 | UInt32(block[4]) << 16 | UInt32(block[5]) << 24
        let qs = block + 6
        for j in 0..<16 {
            let low = Int32(qs[j] & 0x0F) | Int32((qh >> UInt32(j)) & 1) << 4
            let high = Int32(qs[j] >> 4) | Int32((qh >> UInt32(j + 16)) & 1) << 4
            y[j] = d * Float(low - 16)
            y[j + 16] = d * Float(high - 16)
        }
    }

    /// Q5_1: f16 d, f16 m, u32 qh, 16 bytes of nibbles; value = d · q + m.
    @inline(__always)
    private static func q5_1(_ block: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>) {
        let d = half(block, 0)
        let m = half(block, 2)
        let qh = UInt32(block[4]) | UInt32(block[5]) << 8 | UInt32(block[6]) << 16 | UInt32(block[7]) << 24
        let qs = block + 8
        for j in 0..<16 {
            let low = UInt32(qs[j] & 0x0F) | ((qh >> UInt32(j)) & 1) << 4
            let high = UInt32(qs[j] >> 4) | ((qh >> UInt32(j + 16)) & 1) << 4
            y[j] = d * Float(low) + m
            y[j + 16] = d * Float(high) + m
        }
    }

    /// Q8_0: f16 d, 32 signed bytes; value = q · d.
    @inline(__always)
    private static func q8_0(_ block: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>) {
        let d = half(block, 0)
        for j in 0..<32 { y[j] = Float(Int8(bitPattern: block[2 + j])) * d }
    }

    /// Q2_K super-block of 256: 16 scale bytes (low nibble scale, high nibble min, one per 16 values), 64 bytes of
    /// 2-bit values, f16 d, f16 dmin. Value index 128·c + 32·s + l is bits 2s…2s+1 of byte 32·c + l;
    /// value = (d · scale) · q − (dmin · min).
    @inline(__always)
    private static func q2_K(_ block: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>) {
        let scales = block
        let qs = block + 16
        let d = half(block, 80)
        let dmin = half(block, 82)
        for group in 0..<16 {
            let dl = d * Float(scales[group] & 0x0F)
            let ml = dmin * Float(scales[group] >> 4)
            let chunk = group / 8, shift = UInt8(2 * ((group / 2) % 4))
            let q = qs + 32 * chunk + 16 * (group % 2)
            let out = y + 16 * group
            for l in 0..<16 { out[l] = dl * Float((q[l] >> shift) & 3) - ml }
        }
    }

    /// Q3_K super-block of 256: 32 bytes hmask, 64 bytes of 2-bit values (arranged as in Q2_K), 12 bytes of
    /// packed 6-bit signed scales (one per 16 values, offset by 32), f16 d. The third bit of value i is bit
    /// i/32 of hmask[i % 32]; a clear bit subtracts 4. Value = (d · scale) · q.
    @inline(__always)
    private static func q3_K(_ block: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>) {
        let hmask = block
        let qs = block + 32
        let packed = block + 96
        let d = half(block, 108)
        for group in 0..<16 {
            let low = group < 8 ? packed[group] & 0x0F : packed[group - 8] >> 4
            let high = (packed[8 + group % 4] >> UInt8(2 * (group / 4))) & 3
            let dl = d * Float(Int32(low | high << 4) - 32)
            let chunk = group / 8, shift = UInt8(2 * ((group / 2) % 4))
            let q = qs + 32 * chunk + 16 * (group % 2)
            let h = hmask + 16 * (group % 2)
            let maskShift = UInt8(group / 2)
            let out = y + 16 * group
            for l in 0..<16 {
                let value = Int32((q[l] >> shift) & 3) - ((h[l] >> maskShift) & 1 == 0 ? 4 : 0)
                out[l] = dl * Float(value)
            }
        }
    }

    /// The 6-bit scale and min of sub-block `j` (0..<8) from the 12 packed bytes of a Q4_K/Q5_K super-block:
    /// sub-blocks 0-3 keep theirs in the low 6 bits of bytes j and j+4; sub-blocks 4-7 combine a nibble of byte
    /// j+4 with the top two bits of bytes j−4 (scale) and j (min).
    @inline(__always)
    private static func scaleMin(_ j: Int, _ scales: UnsafePointer<UInt8>) -> (scale: Float, min: Float) {
        if j < 4 {
            return (Float(scales[j] & 63), Float(scales[j + 4] & 63))
        }
        let scale = (scales[j + 4] & 0x0F) | ((scales[j - 4] >> 6) << 4)
        let min = (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4)
        return (Float(scale), Float(min))
    }

    /// Q4_K super-block of 256: f16 d, f16 dmin, 12 bytes of packed 6-bit scales/mins, 128 bytes of nibbles.
    /// Sub-block j (32 values) takes nibbles (low for even j, high for odd) of bytes 32·(j/2)…;
    /// value = (d · scale_j) · q − (dmin · min_j).
    @inline(__always)
    private static func q4_K(_ block: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>) {
        let d = half(block, 0)
        let dmin = half(block, 2)
        let scales = block + 4
        let qs = block + 16
        for pair in 0..<4 {
            let q = qs + 32 * pair
            let (scaleLow, minLow) = scaleMin(2 * pair, scales)
            let (scaleHigh, minHigh) = scaleMin(2 * pair + 1, scales)
            let d1 = d * scaleLow, m1 = dmin * minLow
            let d2 = d * scaleHigh, m2 = dmin * minHigh
            let out = y + 64 * pair
            for l in 0..<32 { out[l] = d1 * Float(q[l] & 0x0F) - m1 }
            for l in 0..<32 { out[l + 32] = d2 * Float(q[l] >> 4) - m2 }
        }
    }

    /// Q5_K super-block: f16 d, f16 dmin, 12 scale bytes, 32 bytes qh (bit j of qh[l] is the fifth bit of
    /// element l of sub-block j), 128 bytes of nibbles as in Q4_K.
    @inline(__always)
    private static func q5_K(_ block: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>) {
        let d = half(block, 0)
        let dmin = half(block, 2)
        let scales = block + 4
        let qh = block + 16
        let qs = block + 48
        for pair in 0..<4 {
            let q = qs + 32 * pair
            let (scaleLow, minLow) = scaleMin(2 * pair, scales)
            let (scaleHigh, minHigh) = scaleMin(2 * pair + 1, scales)
            let d1 = d * scaleLow, m1 = dmin * minLow
            let d2 = d * scaleHigh, m2 = dmin * minHigh
            let lowBit = UInt8(2 * pair), highBit = UInt8(2 * pair + 1)
            let out = y + 64 * pair
            for l in 0..<32 { out[l] = d1 * Float((q[l] & 0x0F) | ((qh[l] >> lowBit) & 1) << 4) - m1 }
            for l in 0..<32 { out[l + 32] = d2 * Float((q[l] >> 4) | ((qh[l] >> highBit) & 1) << 4) - m2 }
        }
    }

    /// Q6_K super-block: 128 bytes low nibbles (ql), 64 bytes of 2-bit highs (qh), 16 signed 8-bit scales,
    /// f16 d. Each half of 128 values uses 64 ql bytes and 32 qh bytes: quarter k (0..<4) of the half takes the
    /// low (k = 0, 1) or high (k = 2, 3) nibbles of ql[32·(k%2) + l] and bits 2k…2k+1 of qh[l]. Value =
    /// (d · scale[i/16]) · (q − 32) for output index i.
    @inline(__always)
    private static func q6_K(_ block: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>) {
        let d = half(block, 208)
        let scales = UnsafeRawPointer(block + 192).assumingMemoryBound(to: Int8.self)
        for halfIndex in 0..<2 {
            let ql = block + 64 * halfIndex
            let qh = block + 128 + 32 * halfIndex
            let out = y + 128 * halfIndex
            let sc = scales + 8 * halfIndex
            for quarter in 0..<4 {
                let source = ql + 32 * (quarter & 1)
                let nibbleShift = UInt8(quarter >> 1) * 4
                let highShift = UInt8(2 * quarter)
                let target = out + 32 * quarter
                for part in 0..<2 {
                    let scale = d * Float(sc[2 * quarter + part])
                    for l in (16 * part)..<(16 * part + 16) {
                        let q = Int32((source[l] >> nibbleShift) & 0x0F | ((qh[l] >> highShift) & 3) << 4) - 32
                        target[l] = scale * Float(q)
                    }
                }
            }
        }
    }
}
