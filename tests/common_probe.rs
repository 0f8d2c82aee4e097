use selfattn::attention::{Attention, Plan, Stage};
use selfattn::gpu::{AdapterChoice, GpuContext, attention::{Kernels, attention}};
use selfattn::tensor::Matrix;
#[test]
fn probe() {
    let ctx = GpuContext::open(&AdapterChoice::default()).unwrap();
    eprintln!("{}", ctx.describe());
    let mut rng = selfattn::numpy_rng::NumpyRng::new(42);
    let x = Matrix::from_f64(3,4,&[1.,0.,1.,0.,0.,2.,0.,2.,1.,1.,1.,1.]).unwrap();
    let wq = Matrix::from_f64(4,3,&rng.randn(12)).unwrap();
    let wk = Matrix::from_f64(4,3,&rng.randn(12)).unwrap();
    let wv = Matrix::from_f64(4,3,&rng.randn(12)).unwrap();
    let p = Attention{x,wq,wk,wv,wo:None,causal:false};
    let plan = Plan::new(p.dims().unwrap(), false, false);
    let k = Kernels::new(&ctx).unwrap();
    let r = attention(&ctx, &k, &plan, &p, &Stage::ALL).unwrap();
    let cpu = selfattn::cpu::attention::attention(&plan, &p);
    for s in Stage::ALL { eprintln!("{}", selfattn::compare::compare(s, &r.results[&s], &cpu[&s], 1e-5)); }
    eprintln!("{:?}", r.results[&Stage::Weights].data);
}
