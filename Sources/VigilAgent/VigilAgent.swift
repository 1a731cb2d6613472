/// Wires capture, decode, state, rules and alerts into the running agent.
public enum VigilAgentModule {}
