/// ggml block dequantisation (filled in with the GGUF reader).
enum Dequantizer {
    static func isSupported(_ dataType: TensorDataType) -> Bool { false }

    static func dequantize(_ dataType: TensorDataType, from source: UnsafeRawPointer, count: Int,
                           to destination: UnsafeMutablePointer<Float>) {}
}
