/// Capture: BPF programs loaded through libbpf, the ring-buffer reader, and event sources.
public enum VigilCaptureModule {}
