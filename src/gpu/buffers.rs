//! Buffer helpers: uploads, poisoned outputs, uniform params and read-back.

use wgpu::util::DeviceExt;

use crate::error::{Error, Result};

use super::GpuContext;

/// The bit pattern written into output buffers before a run (a quiet NaN with a recognisable
/// payload), so an element the kernel never wrote cannot pass as a plausible value.
pub const POISON: u32 = 0x7fc0_dead;

/// A read-only storage buffer holding `data`, checked against the adapter's limits.
pub fn upload(ctx: &GpuContext, label: &str, data: &[f32]) -> Result<wgpu::Buffer> {
    ctx.check_storage_size(label, std::mem::size_of_val(data) as u64)?;
    // wgpu rejects zero-sized bindings; an unused input (no bias) still needs one element.
    let padded: &[f32] = if data.is_empty() { &[0.0] } else { data };
    Ok(ctx
        .device
        .create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: bytemuck::cast_slice(padded),
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        }))
}

/// A read-write storage buffer of `len` f32 whose contents a kernel writes first (the executor
/// fills it with [`POISON`] on the device).
pub fn output(ctx: &GpuContext, label: &str, len: usize) -> Result<wgpu::Buffer> {
    ctx.check_storage_size(label, (len * 4) as u64)?;
    Ok(ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: (len.max(1) * 4) as u64,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    }))
}

/// A read-write storage buffer of `len` f32 filled with [`POISON`] from the host, for tests and
/// examples that dispatch one kernel by hand.
pub fn poisoned_output(ctx: &GpuContext, label: &str, len: usize) -> Result<wgpu::Buffer> {
    ctx.check_storage_size(label, (len * 4) as u64)?;
    let poison = vec![POISON; len.max(1)];
    Ok(ctx
        .device
        .create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: bytemuck::cast_slice(&poison),
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        }))
}

/// A uniform buffer holding one params struct.
pub fn uniform<T: bytemuck::Pod>(ctx: &GpuContext, label: &str, params: &T) -> wgpu::Buffer {
    uniform_bytes(ctx, label, bytemuck::bytes_of(params))
}

/// A uniform buffer holding a params struct's bytes (see [`crate::kernels::Dispatch`]).
pub fn uniform_bytes(ctx: &GpuContext, label: &str, bytes: &[u8]) -> wgpu::Buffer {
    ctx.device
        .create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: bytes,
            usage: wgpu::BufferUsages::UNIFORM,
        })
}

/// A mappable staging buffer that `len` f32 are copied into for read-back.
pub fn staging(ctx: &GpuContext, label: &str, len: usize) -> wgpu::Buffer {
    ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: (len.max(1) * 4) as u64,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    })
}

/// Maps every staging buffer, waits for the GPU, and copies out `len` f32 from each.
pub fn read_back(ctx: &GpuContext, buffers: &[(&wgpu::Buffer, usize)]) -> Result<Vec<Vec<f32>>> {
    let (tx, rx) = std::sync::mpsc::channel();
    for (i, (buffer, _)) in buffers.iter().enumerate() {
        let tx = tx.clone();
        buffer.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send((i, r));
        });
    }
    drop(tx);
    ctx.device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| Error::Mapping(e.to_string()))?;
    for _ in buffers {
        let (i, r) = rx
            .recv()
            .map_err(|_| Error::Mapping("map callback never ran".into()))?;
        r.map_err(|e| Error::Mapping(format!("buffer {i}: {e}")))?;
    }
    let mut out = Vec::with_capacity(buffers.len());
    for (buffer, len) in buffers {
        let values = {
            let view = buffer
                .get_mapped_range(..)
                .map_err(|e| Error::Mapping(e.to_string()))?;
            bytemuck::cast_slice::<u8, f32>(&view)[..*len].to_vec()
        };
        buffer.unmap();
        out.push(values);
    }
    Ok(out)
}
