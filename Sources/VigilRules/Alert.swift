/// A typed value of an output field (`output_fields` keeps numbers as numbers).
package enum AlertFieldValue: Sendable, Equatable {
    case string(String)
    case int(Int64)
    case uint(UInt64)
    case bool(Bool)
    case strings([String])
    /// Unset (`<NA>` in text, `null` in JSON).
    case none
}

/// One alert: a rule matched an event. Falco's JSON shape when formatted.
package struct Alert: Sendable {
    /// Event time, ns since the epoch.
    package var timeNs: UInt64
    package var rule: String
    package var priority: Priority
    /// Event source (`syscall`).
    package var source: String
    package var hostname: String
    /// The rendered output template (without time and priority prefix).
    package var message: String
    package var tags: [String]
    /// Values of every field the template names, plus container and pod fields.
    package var outputFields: [(String, AlertFieldValue)]

    package init(timeNs: UInt64, rule: String, priority: Priority, source: String = "syscall", hostname: String,
                message: String, tags: [String], outputFields: [(String, AlertFieldValue)]) {
        self.timeNs = timeNs; self.rule = rule; self.priority = priority; self.source = source
        self.hostname = hostname; self.message = message; self.tags = tags; self.outputFields = outputFields
    }
}
