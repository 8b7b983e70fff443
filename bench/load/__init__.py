"""Load generation shared by the end-to-end benchmarks.

``stack`` runs what is measured (an embedded PostgreSQL in a temporary folder
and ``contactcenter serve`` as its own process); ``clients`` is what loads it
(agent consoles and chat widgets over the real websockets). Keeping the server
in its own process is the point: the figures are what one server process
sustains, and the Python load generator's cost is never counted against it.
"""
