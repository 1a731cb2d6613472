/// Sinks, formatting and flood control for alerts. See the delivery issue.
public enum VigilAlertsModule {}
