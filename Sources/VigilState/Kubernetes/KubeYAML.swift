import VigilCore

/// Kubeconfig reading helpers on the shared YAML tree (``YAMLDocumentParser``, VigilCore).
extension YAMLNode {
    /// Parses the first document of a kubeconfig; an empty file is a null node.
    static func kubeconfig(_ bytes: [UInt8], file: String) throws(YAMLError) -> YAMLNode {
        try YAMLDocumentParser.parse(bytes, file: file).first ?? YAMLNode(.scalar("", quoted: false, block: false), SourceMark(file: file, line: 1, column: 1))
    }
    /// The scalar's text; nil for collections and for plain null (`~`, `null`, empty).
    var string: String? { isNull ? nil : scalar }
    /// A sequence's items; empty for anything else.
    var items: [YAMLNode] { sequence ?? [] }
    var line: Int { mark.line }
    var column: Int { mark.column }
}
