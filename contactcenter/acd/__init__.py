"""The automatic call distributor: the one I/O shell around the pure router.

``RouterService`` serialises every routing event through one task, applies the
router's decisions to the store in one transaction per batch, then notifies the
agents' consoles through the ``AgentFeed``. ``Intake`` is the one path by which
channels (and the admin API) bring customer messages in.
"""
