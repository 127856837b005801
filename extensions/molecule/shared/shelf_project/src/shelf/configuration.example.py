"""shelf's site configuration: copy to configuration.py, or let the deployment supply it.

It holds no secret (those come from the environment), only what differs between sites.
"""

SITE_TITLE = "My shelf"
BOOKS_PER_PAGE = 50
