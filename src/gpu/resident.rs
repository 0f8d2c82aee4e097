//! Buffers kept on the device from one execution to the next, for programs that share work:
//! the blocks of a row-blocked run ([`run_row_blocks`](super::row_blocks::run_row_blocks))
//! all read the same X, weights, keys and values, and all project the same K and V.
//!
//! An input the caller marks shared is known by its data's address and length (the data is
//! borrowed for the life of the [`Resident`], so it cannot change meanwhile); a step's output
//! by its kernel, params bytes and the keys of what it reads. A buffer whose key a previous
//! execution left here is bound again, not uploaded or recomputed, and the step that would
//! write it is skipped. What is computed from a block's own data has no key and is never kept.
//! After each execution only the buffers it used stay (the shared inputs, what its steps wrote,
//! and the kept results they read or it read back), so a result no longer read is freed one
//! execution later.
//!
//! Keys are interned: an output's key names what it reads by their ids, so comparing or hashing
//! one is as cheap as its own fields even at the end of a deep chain (a decoder's thirty layers,
//! each reading the one before through its residual, and a KV cache grown by one row per
//! generated token).

use std::collections::HashMap;
use std::marker::PhantomData;

use crate::program::Program;

/// What a kept buffer holds, in terms that cannot change while it is kept.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) enum Key {
    /// A shared input: its data's address and length.
    Input { address: usize, len: usize },
    /// The `index`-th output (of `len` elements) of a step of `kernel` with `params`, reading
    /// the buffers of the interned keys `reads` (`None` for an absent optional input).
    Output {
        kernel: &'static str,
        params: Vec<u8>,
        reads: Vec<Option<KeyId>>,
        index: usize,
        len: usize,
    },
}

/// An interned [`Key`]: equal ids, equal keys.
pub(super) type KeyId = usize;

/// Device buffers kept between executions of programs that read the same borrowed data
/// (`'a`); see the module docs.
#[derive(Default)]
pub struct Resident<'a> {
    ids: HashMap<Key, KeyId>,
    buffers: HashMap<KeyId, wgpu::Buffer>,
    reused_steps: usize,
    reused_inputs: usize,
    data: PhantomData<&'a [f32]>,
}

impl<'a> Resident<'a> {
    /// Steps skipped so far because their outputs were kept from an earlier execution.
    pub fn reused_steps(&self) -> usize {
        self.reused_steps
    }

    /// Inputs not uploaded again so far because an earlier execution left them here.
    pub fn reused_inputs(&self) -> usize {
        self.reused_inputs
    }

    /// The kept buffer of `key`, if any.
    pub(super) fn get(&self, key: KeyId) -> Option<&wgpu::Buffer> {
        self.buffers.get(&key)
    }

    /// The id of `key`, a new one the first time it is seen.
    fn intern(&mut self, key: Key) -> KeyId {
        let next = self.ids.len();
        *self.ids.entry(key).or_insert(next)
    }

    /// Drops every kept buffer (after an execution that failed on the device).
    pub(super) fn clear(&mut self) {
        self.buffers.clear();
        self.ids.clear();
    }

    /// Ends an execution: keeps exactly `used` (what it bound under a key), counting what it
    /// reused.
    pub(super) fn keep(
        &mut self,
        used: Vec<(KeyId, wgpu::Buffer)>,
        reused_steps: usize,
        reused_inputs: usize,
    ) {
        self.buffers = used.into_iter().collect();
        self.reused_steps += reused_steps;
        self.reused_inputs += reused_inputs;
    }
}

/// Each buffer's key in `program`, `None` where it depends on data not marked shared.
/// `inputs` and `shared` are in input declaration order.
pub(super) fn keys(
    program: &Program,
    inputs: &[&[f32]],
    shared: &[bool],
    resident: &mut Resident<'_>,
) -> Vec<Option<KeyId>> {
    let mut keys: Vec<Option<KeyId>> = vec![None; program.buffers.len()];
    let mut next = 0;
    for (i, spec) in program.buffers.iter().enumerate() {
        if spec.input {
            if shared.get(next) == Some(&true)
                && let Some(data) = inputs.get(next)
            {
                keys[i] = Some(resident.intern(Key::Input {
                    address: data.as_ptr() as usize,
                    len: data.len(),
                }));
            }
            next += 1;
        }
    }
    for step in &program.steps {
        let reads: Option<Vec<Option<KeyId>>> = step
            .slots()
            .iter()
            .filter(|slot| !slot.write)
            .map(|slot| match slot.id {
                None => Some(None),
                Some(id) => keys[id.0].map(Some),
            })
            .collect();
        let Some(reads) = reads else { continue };
        let kernel = step.kernel();
        for (index, out) in step.outs().into_iter().enumerate() {
            keys[out.0] = Some(resident.intern(Key::Output {
                kernel: kernel.kernel(),
                params: kernel.bytes(),
                reads: reads.clone(),
                index,
                len: program.spec(out).len,
            }));
        }
    }
    keys
}
