/// Wires capture, decode, state, rules and alerts into the running agent.
package enum VigilAgentModule {}
