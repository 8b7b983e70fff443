"""Voice channel: calls from a SIP trunk or PBX queue here and are redirected to agents."""
