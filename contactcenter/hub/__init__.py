"""Websocket hubs: the agent console feed (and, later, supervisors and chat customers)."""
