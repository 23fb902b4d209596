/// Why an archive was refused or could not be read or written.
public enum ZipError: Error, Equatable, CustomStringConvertible {
    /// Not a ZIP, or a damaged or truncated one.
    case malformed(String)
    /// Over a configured limit (entries, total size, compression ratio).
    case limitExceeded(String)
    /// Something we refuse to extract: unsafe paths, links, devices, encryption, duplicates.
    case unsafe(String)
    /// libarchive failed; carries its own message.
    case library(String)
    /// Reading or writing the file beneath failed.
    case io(String)

    public var description: String {
        switch self {
        case .malformed(let text), .limitExceeded(let text), .unsafe(let text), .library(let text), .io(let text):
            return text
        }
    }
}
