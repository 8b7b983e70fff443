"""contactcenter: an omnichannel contact-center server.

Email, web chat, SMS and voice are normalised into one interaction model and
one queue, routed by skill and customer tier, and every touchpoint is kept in
the customer history store in PostgreSQL.
"""

__version__ = "0.1.0"
