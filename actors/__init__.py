"""aiway's actors: the runtime, the protocol and every actor of the assistant."""
