/// A position in a source file (1-based line and column), printed as `file:line:column`.
package struct SourceMark: Sendable, Equatable, CustomStringConvertible {
    /// The file (or other origin) the position is in.
    package var file: String
    /// 1-based line; 0 when the position is the whole file.
    package var line: Int
    /// 1-based column.
    package var column: Int

    package init(file: String, line: Int, column: Int) { self.file = file; self.line = line; self.column = column }

    package var description: String { "\(file):\(line):\(column)" }

    /// The mark `dc` columns further on the same line (`dl == 0`), or column `dc + 1` of the line `dl` further on.
    package func advanced(line dl: Int = 0, column dc: Int) -> SourceMark {
        SourceMark(file: file, line: line + dl, column: dl == 0 ? column + dc : dc + 1)
    }
}
