/// Everything that can go wrong while reading inputs, generating or writing a dataset. Each case names the
/// file (and line, tensor or key) and says what is wrong, so a user can fix the input.
public enum DataGenerationError: Error, CustomStringConvertible, Equatable {
    case unreadableFile(file: String, problem: String)
    case invalidGzip(file: String, problem: String)
    case invalidLine(file: String, line: Int, problem: String)
    case noConversations(file: String)
    case evaluationData(origin: String, set: String)
    case invalidSetting(String)
    case incompatibleOutput(directory: String, problem: String)
    case invalidDataset(file: String, problem: String)
    case renderFailed(problem: String)

    public var description: String {
        switch self {
        case let .unreadableFile(file, problem): return "\(file): \(problem)"
        case let .invalidGzip(file, problem): return "\(file): not a valid gzip stream (\(problem))"
        case let .invalidLine(file, line, problem): return "\(file):\(line): \(problem)"
        case let .noConversations(file): return "\(file): no usable conversation or prompt"
        case let .evaluationData(origin, set):
            return "\(origin): this conversation contains a prompt of the \(set) evaluation set; evaluation prompts must never enter training data (--drop-evaluation-prompts drops them instead)"
        case let .invalidSetting(problem): return problem
        case let .incompatibleOutput(directory, problem): return "\(directory): \(problem)"
        case let .invalidDataset(file, problem): return "\(file): \(problem)"
        case let .renderFailed(problem): return "chat template: \(problem)"
        }
    }
}
