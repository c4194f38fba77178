import CZlib
import Foundation

/// Reads gzip-compressed input files (`.jsonl.gz`). Files that do not start with the gzip magic bytes are
/// returned unchanged, so callers never need to know which one they were given.
public enum Gzip {
    /// True when `data` starts with the gzip magic bytes 1f 8b.
    public static func isCompressed(_ data: Data) -> Bool {
        data.count >= 2 && data[data.startIndex] == 0x1f && data[data.startIndex + 1] == 0x8b
    }

    /// The decompressed bytes of a gzip stream (concatenated members included), or `data` itself when it is
    /// not gzip. `file` names the input in errors.
    public static func decompressIfNeeded(_ data: Data, file: String) throws -> Data {
        guard isCompressed(data) else { return data }
        var stream = z_stream()
        // 15 window bits + 32: detect the gzip header automatically.
        guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw DataGenerationError.invalidGzip(file: file, problem: "zlib could not start")
        }
        defer { inflateEnd(&stream) }
        var output = Data()
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        try data.withUnsafeBytes { (input: UnsafeRawBufferPointer) in
            guard let base = input.bindMemory(to: Bytef.self).baseAddress else { return }
            stream.next_in = UnsafeMutablePointer(mutating: base)
            stream.avail_in = uInt(input.count)
            while true {
                let status = chunk.withUnsafeMutableBufferPointer { out -> Int32 in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(out.count)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                let produced = chunk.count - Int(stream.avail_out)
                output.append(contentsOf: chunk[0..<produced])
                if status == Z_STREAM_END {
                    // Another gzip member may follow (files written with `cat a.gz b.gz`).
                    if stream.avail_in == 0 { return }
                    guard inflateReset(&stream) == Z_OK else {
                        throw DataGenerationError.invalidGzip(file: file, problem: "cannot read the next gzip member")
                    }
                    continue
                }
                if status == Z_BUF_ERROR && stream.avail_in == 0 {
                    throw DataGenerationError.invalidGzip(file: file, problem: "the stream is truncated")
                }
                guard status == Z_OK else {
                    let message = stream.msg.map { String(cString: $0) } ?? "zlib error \(status)"
                    throw DataGenerationError.invalidGzip(file: file, problem: message)
                }
            }
        }
        return output
    }
}
