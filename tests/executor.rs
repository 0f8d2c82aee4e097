//! The GPU executor's own duties, apart from any one kernel: outputs are poisoned with NaN on
//! the device (`shaders/fill.wgsl`) before the steps run, so an element no kernel writes reads
//! back as the poison, bit for bit; and programs that share borrowed inputs reuse those, and
//! what is computed from them alone, from one execution to the next (`gpu::resident`), with
//! results equal to a fresh execution's.

mod common;

use common::{dispatch, gpu};
use selfattn::cpu;
use selfattn::gpu::buffers::{POISON, uniform, upload};
use std::borrow::Cow;

use selfattn::gpu::execute::{Kernels, execute, execute_resident};
use selfattn::gpu::kernel::Kernel;
use selfattn::gpu::resident::Resident;
use selfattn::kernels::fill::FillParams;
use selfattn::kernels::gelu::GeluParams;
use selfattn::kernels::matmul::MatmulParams;
use selfattn::kernels::{GpuStep, Variants, linear_spec};
use selfattn::numpy_rng::NumpyRng;
use selfattn::program::{Program, Slot, Step};

fn randn(rng: &mut NumpyRng, len: usize) -> Vec<f32> {
    rng.randn(len).into_iter().map(|v| v as f32).collect()
}

#[test]
fn an_element_no_step_writes_reads_back_as_the_poison() {
    let Some(ctx) = gpu() else { return };
    let kernels = Kernels::new(&ctx).expect("kernels compile");
    let mut rng = NumpyRng::new(11);
    for (written, tail) in [(1, 1), (37, 5), (64, 63), (1031, 2)] {
        let x = randn(&mut rng, written);
        // A GELU told to write `written` elements into a buffer `tail` longer.
        let mut p = Program::default();
        let input = p.input("x", written);
        let out = p.output("activations", written + tail);
        p.push(Step::new(
            GeluParams::new(written as u32),
            vec![Slot::read(input), Slot::write(out)],
        ));
        let (got, _) = execute(&ctx, &kernels, &p, &[&x], &[out]).expect("runs");
        let want = cpu::execute::execute(&p, &[&x], &[out]);
        let got = &got[0];
        assert_eq!(got.len(), written + tail);
        for i in 0..written {
            let (g, w) = (got[i] as f64, want[out.0][i]);
            assert!(
                (g - w).abs() <= 1e-6 + 1e-6 * w.abs(),
                "written {written}: element {i} is {g}, the CPU twin says {w}"
            );
        }
        for (i, v) in got.iter().enumerate().skip(written) {
            assert_eq!(
                v.to_bits(),
                POISON,
                "written {written}: element {i} past the written ones is {v}, not the poison"
            );
        }
    }
}

#[test]
fn fill_writes_its_pattern_and_nothing_past_it() {
    let Some(ctx) = gpu() else { return };
    let kernel = Kernel::compile(
        &ctx.device,
        &linear_spec::<FillParams>(&Variants::default()),
    );
    let bits = 0x3f80_0001; // 1.0000001, neither zero nor the poison
    let before = f32::from_bits(0x4049_0fdb); // π: what the tail must keep
    // 1, a prime, one workgroup ± 1, and a size whose groups fold into y at a small limit.
    for (len, max_per_dim) in [(1, 65_535), (61, 65_535), (63, 1), (65, 65_535), (6_007, 7)] {
        let tail = 3;
        let params = FillParams::new(len as u32, bits);
        let groups = params.workgroups(&Variants::default(), max_per_dim);
        let out = upload(&ctx, "filled", &vec![before; len + tail]).unwrap();
        let u = uniform(&ctx, "fill params", &params);
        let got = dispatch(&ctx, &kernel, &[&u, &out], groups, len + tail);
        let mut want = vec![before as f64; len + tail];
        cpu::fill::fill(&params, &mut want);
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(
                g.to_bits(),
                (*w as f32).to_bits(),
                "len {len}, groups {groups:?}: element {i} is {g}, the CPU twin says {w}"
            );
        }
        assert_eq!(got[len - 1].to_bits(), bits, "len {len}");
        assert_eq!(
            got[len].to_bits(),
            before.to_bits(),
            "len {len}: tail written"
        );
    }
}

/// One block of a row-blocked product: k = alpha · x · w from the shared x and w, q = y · w
/// from the block's own rows y, scores = q · kᵀ. Returns the program, its inputs (x and w
/// borrowed, y owned) and the ids of k and the scores.
fn block<'a>(
    x: &'a [f32],
    w: &'a [f32],
    y: &[f32],
    [n, d, e]: [usize; 3],
    alpha: f32,
) -> (Program, Vec<Cow<'a, [f32]>>, [selfattn::program::BufId; 2]) {
    let rows = y.len() / d;
    let mut p = Program::default();
    let xs = p.input("x", n * d);
    let ws = p.input("w", d * e);
    let ys = p.input("y (block rows)", rows * d);
    let k = p.matmul(
        "k",
        MatmulParams::plain(n, e, d).scaled(alpha),
        xs,
        ws,
        None,
    );
    let q = p.matmul("q", MatmulParams::plain(rows, e, d), ys, ws, None);
    let scores = p.matmul("scores", MatmulParams::transposed_b(rows, n, e), q, k, None);
    let inputs = vec![Cow::Borrowed(x), Cow::Borrowed(w), Cow::Owned(y.to_vec())];
    (p, inputs, [k, scores])
}

#[test]
fn shared_inputs_and_what_is_computed_from_them_alone_stay_on_the_device() {
    let Some(ctx) = gpu() else { return };
    let kernels = Kernels::new(&ctx).expect("kernels compile");
    let mut rng = NumpyRng::new(23);
    let dims @ [n, d, e] = [37, 13, 11];
    let (x, w) = (randn(&mut rng, n * d), randn(&mut rng, d * e));
    let mut resident = Resident::default();
    // Blocks of 5, 1 and 7 rows with their own y; the last computes k with another alpha, so
    // it must not be served the kept k.
    let blocks = [(5, 1.0), (1, 1.0), (7, 0.5)];
    let mut reused = Vec::new();
    for (i, (rows, alpha)) in blocks.into_iter().enumerate() {
        let y = randn(&mut rng, rows * d);
        let (p, inputs, want) = block(&x, &w, &y, dims, alpha);
        let (got, _) = execute_resident(&ctx, &kernels, &p, &inputs, &want, &mut resident)
            .unwrap_or_else(|e| panic!("block {i}: {e}"));
        let plain: Vec<&[f32]> = inputs.iter().map(|v| &v[..]).collect();
        let (fresh, _) = execute(&ctx, &kernels, &p, &plain, &want).expect("fresh run");
        let cpu = cpu::execute::execute(&p, &plain, &want);
        for ((got, fresh), (name, id)) in
            got.iter().zip(&fresh).zip(["k", "scores"].iter().zip(want))
        {
            assert_eq!(got.len(), fresh.len());
            for (j, (g, f)) in got.iter().zip(fresh).enumerate() {
                assert_eq!(
                    g.to_bits(),
                    f.to_bits(),
                    "block {i}: {name}[{j}] is {g} kept, {f} fresh"
                );
                let c = cpu[id.0][j];
                assert!(
                    (*g as f64 - c).abs() <= 1e-4 + 1e-4 * c.abs(),
                    "block {i}: {name}[{j}] is {g}, the CPU says {c}"
                );
            }
        }
        reused.push((resident.reused_steps(), resident.reused_inputs()));
    }
    // Block 0 computes everything; block 1 reuses x, w and k's matmul; block 2 reuses x and w
    // but recomputes k (other params), and q and the scores (its own y) every time.
    assert_eq!(reused, [(0, 0), (1, 2), (1, 4)]);
}
