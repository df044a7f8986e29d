"""Settings of the server processes tests start (``tests/servers.py``): the production
settings, plus the fast password hasher the suite hashes with (``tests/conftest.py``), so
that a server can check the passwords of users the tests created."""

from optiflow.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
