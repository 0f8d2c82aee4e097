"""selfattn.devices lists what wgpu sees."""

import pytest

import selfattn


def test_devices_describe_each_adapter(gpu):
    for d in gpu:
        assert set(d) == {"name", "backend", "device_type", "driver"}
        assert d["name"] and d["backend"] in {"vulkan", "metal", "dx12", "gl"}


def test_a_bad_backend_is_a_value_error():
    with pytest.raises(ValueError, match="unknown backend 'opencl'"):
        selfattn.devices("opencl")
