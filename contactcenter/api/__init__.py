"""The HTTP API: JSON over aiohttp, one module per resource."""
