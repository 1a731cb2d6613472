import Synchronization

/// A `Mutex` in a class, so that it can be shared by reference.
final class MutexBox<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    @discardableResult
    func withLock<R: Sendable>(_ body: (inout Value) -> R) -> R {
        mutex.withLock { v in body(&v) }
    }
}
