"""``selfattn.devices``: the adapters wgpu sees."""

from . import _selfattn


def devices(backend=None):
    """Every GPU adapter wgpu sees, as dicts with ``name``, ``backend``, ``device_type`` and
    ``driver``, in enumeration order.

    ``backend`` limits the list to one of "vulkan", "metal", "dx12", "gl" (default: the
    ``WGPU_BACKEND`` environment variable, else every backend). An empty list means no GPU:
    on Linux, Mesa's lavapipe (``mesa-vulkan-drivers``) is a software Vulkan adapter.
    """
    return _selfattn.devices(backend)
