"""The console's fixtures (users per role, signed-in clients, the browser) for the staff console's tests."""

from tests.admin.conftest import (  # noqa: F401  (fixtures, reused)
    admin_client,
    admin_settings,
    browser,
    context,
    page,
    signed_in,
)
from tests.hotline.conftest import demo_archive, demo_home, demo_retriever  # noqa: F401
