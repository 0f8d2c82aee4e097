//! The GPU executor's own duties, apart from any one kernel: outputs are poisoned with NaN on
//! the device (`shaders/fill.wgsl`) before the steps run, so an element no kernel writes reads
//! back as the poison, bit for bit.

mod common;

use common::{dispatch, gpu};
use selfattn::cpu;
use selfattn::gpu::buffers::{POISON, uniform, upload};
use selfattn::gpu::execute::{Kernels, execute};
use selfattn::gpu::kernel::Kernel;
use selfattn::kernels::fill::FillParams;
use selfattn::kernels::gelu::GeluParams;
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
