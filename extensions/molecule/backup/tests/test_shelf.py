"""shared/shelf_project on this scenario's hosts: module mode on PostgreSQL and requirements.txt
on Debian 12, environment mode on SQLite and uv.lock on Debian 13 (the default scenario deploys
it the other way round)."""

import os

from shelf_checks import *  # noqa: F403  # pylint: disable=wildcard-import,unused-wildcard-import

# The site's hosts, not the SFTP host beside them.
testinfra_hosts = [f"ansible://djangoops?ansible_inventory={os.environ.get('MOLECULE_INVENTORY_FILE', '')}"]
