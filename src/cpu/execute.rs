//! The CPU reference executor: runs a [`Program`] with the CPU twins, in f64 throughout.

use crate::program::{BufId, Program};

/// Runs the steps of `program` needed for `want`, with `inputs` (one slice per input buffer, in
/// declaration order). Returns every buffer in f64; buffers not computed are left empty.
pub fn execute(program: &Program, inputs: &[&[f32]], want: &[BufId]) -> Vec<Vec<f64>> {
    let mut buffers: Vec<Vec<f64>> = Vec::with_capacity(program.buffers.len());
    let mut next_input = inputs.iter();
    for spec in &program.buffers {
        if spec.input {
            let data = next_input.next().expect("one slice per input buffer");
            assert_eq!(
                data.len(),
                spec.len,
                "input {} has the wrong length",
                spec.name
            );
            buffers.push(data.iter().map(|&v| v as f64).collect());
        } else {
            buffers.push(Vec::new());
        }
    }
    let needed = program.needed_steps(want);
    for (step, needed) in program.steps.iter().zip(needed) {
        if !needed {
            continue;
        }
        let slots = step.slots();
        let mut writes: Vec<Vec<f64>> = slots
            .iter()
            .filter(|slot| slot.write)
            .map(|slot| vec![0.0; program.spec(slot.id.expect("written")).len])
            .collect();
        {
            // An absent optional input is empty (the params say it is not read).
            let reads: Vec<&[f64]> = slots
                .iter()
                .filter(|slot| !slot.write)
                .map(|slot| slot.id.map_or(&[][..], |id| &buffers[id.0][..]))
                .collect();
            step.kernel().run_cpu(&reads, &mut writes);
        }
        let written = slots.iter().filter(|slot| slot.write);
        for (slot, data) in written.zip(writes) {
            buffers[slot.id.expect("written").0] = data;
        }
    }
    buffers
}
