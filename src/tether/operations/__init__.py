"""Operations: commands to a device, routed to the agent that executes them, with a status lifecycle."""
