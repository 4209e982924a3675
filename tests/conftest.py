import pytest

from icm.common.paths import shared_dir


@pytest.fixture(scope="session")
def shared():
    """The shared data folder; tests that need it skip with a clear reason where it is absent."""
    root = shared_dir(required=False)
    if root is None:
        pytest.skip("shared data folder ../shared (or $ICM_SHARED_DIR) is absent")
    return root
