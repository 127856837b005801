"""shared/shelf_project on this scenario's hosts: environment mode on Debian 12, module mode on
Debian 13 (the backup scenario deploys it the other way round)."""

from shelf_checks import *  # noqa: F403  # pylint: disable=wildcard-import,unused-wildcard-import
